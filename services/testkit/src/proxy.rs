//! A TCP proxy between Kafka clients and a broker that can make the broker unreachable and
//! reachable again. Kafka clients learn broker addresses from metadata, so the proxy must listen
//! at the broker's advertised address (see [`crate::Tansu::start_behind_proxy`]).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const UP: u8 = 0;
const CUT: u8 = 1;
const BLACKHOLE: u8 = 2;

/// How the broker becomes unreachable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outage {
    /// Every open connection is closed and new ones are closed at once (a broker down, a
    /// refused port).
    Cut,
    /// Nothing flows any more: open connections stay open but silent, new ones are accepted and
    /// never answered (a network partition); restored, they flow again.
    Blackhole,
}

struct Shared {
    mode: AtomicU8,
    stop: AtomicBool,
    /// Both ends of every open connection, to close them when cut.
    open: Mutex<Vec<(TcpStream, TcpStream)>>,
    /// Connections accepted during a blackhole: connected to the broker once restored.
    held: Mutex<Vec<TcpStream>>,
}

pub struct Proxy {
    /// Where the proxy listens (the broker's advertised address).
    pub addr: String,
    target: String,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Listens on `listen` (`127.0.0.1:PORT`) and forwards every connection to `target`.
    pub fn start(listen: &str, target: &str) -> Proxy {
        let listener = TcpListener::bind(listen).unwrap_or_else(|e| panic!("proxy listens on {listen}: {e}"));
        listener.set_nonblocking(true).expect("non-blocking listener");
        let shared = Arc::new(Shared {
            mode: AtomicU8::new(UP),
            stop: AtomicBool::new(false),
            open: Mutex::new(Vec::new()),
            held: Mutex::new(Vec::new()),
        });
        let (state, to) = (shared.clone(), target.to_string());
        std::thread::spawn(move || accept_loop(&listener, &to, &state));
        Proxy {
            addr: listen.to_string(),
            target: target.to_string(),
            shared,
        }
    }

    /// Makes the broker unreachable through the proxy.
    pub fn fail(&self, how: Outage) {
        match how {
            Outage::Cut => {
                self.shared.mode.store(CUT, Ordering::SeqCst);
                for (a, b) in self.shared.open.lock().unwrap().drain(..) {
                    let _ = a.shutdown(Shutdown::Both);
                    let _ = b.shutdown(Shutdown::Both);
                }
            }
            Outage::Blackhole => self.shared.mode.store(BLACKHOLE, Ordering::SeqCst),
        }
    }

    /// The broker is reachable again; connections held by a blackhole are connected now.
    pub fn restore(&self) {
        self.shared.mode.store(UP, Ordering::SeqCst);
        let held: Vec<TcpStream> = self.shared.held.lock().unwrap().drain(..).collect();
        for client in held {
            connect(client, &self.target, &self.shared);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.fail(Outage::Cut);
    }
}

fn accept_loop(listener: &TcpListener, target: &str, shared: &Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                let _ = client.set_nonblocking(false);
                match shared.mode.load(Ordering::SeqCst) {
                    CUT => drop(client),
                    BLACKHOLE => shared.held.lock().unwrap().push(client),
                    _ => connect(client, target, shared),
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn connect(client: TcpStream, target: &str, shared: &Arc<Shared>) {
    let Ok(server) = TcpStream::connect(target) else {
        return; // the broker itself is gone: the client sees a closed connection
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = (
        client.try_clone(),
        server.try_clone(),
        client.try_clone(),
        server.try_clone(),
    ) else {
        return;
    };
    shared.open.lock().unwrap().push((c3, s3));
    let (a, b) = (shared.clone(), shared.clone());
    std::thread::spawn(move || pump(client, server, &a));
    std::thread::spawn(move || pump(s2, c2, &b));
}

/// Copies `from` to `to` until either closes; during a blackhole nothing is read (data waits
/// in the kernel's buffers, as on a silent network).
fn pump(mut from: TcpStream, mut to: TcpStream, shared: &Shared) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match shared.mode.load(Ordering::SeqCst) {
            BLACKHOLE => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            CUT => break,
            _ => {}
        }
        match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
