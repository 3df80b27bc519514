//! The benchmark's reference backend: a bare hyper 1 server that answers every request with
//! the same ~650-byte SCIM user. It does the least an HTTP/1 server can do per request, so
//! the gateway's cache-hit rate is measured against it (`scripts/bench.sh`).
//!
//!   cargo run --release --example static_user -- [ADDR]     (default 127.0.0.1:0)
//!
//! Prints `listening on ADDR` once bound.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// A typical provisioned user as scimgate answers it, 642 bytes.
const USER: &str = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"id":"1042","externalId":"5b1f6a0e-2c1d-4c53-9a7e-3f0b8c2d9e41","userName":"user37@example.com","name":{"givenName":"Alice","familyName":"Smith"},"displayName":"Alice Smith","active":true,"emails":[{"value":"user37@example.com","type":"work","primary":true}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Engineering","employeeNumber":"E-1042"},"meta":{"resourceType":"User","created":"2026-01-01T00:00:00Z","version":"W/\"3f9a1c2b7d4e5f60\"","location":"http://127.0.0.1/scim/v2/Users/1042"}}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    let body = Bytes::from_static(USER.as_bytes());
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_request: Request<hyper::body::Incoming>| {
                let mut response = Response::new(Full::new(body.clone()));
                response.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/scim+json"),
                );
                async move { Ok::<_, Infallible>(response) }
            });
            // A client closing its keep-alive connection is normal, not worth a log line.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
