//! One integration-test binary (each file in tests/ would link separately): the gateway over
//! real sockets, in front of the demo directory and (with `--features real-backends`) a real
//! json-server.

mod smoke;
mod support;
