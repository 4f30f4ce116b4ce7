//! Helpers for the capture end-to-end tests: `kairos` child processes
//! (server, agent) whose stderr is collected, and a TCP proxy whose
//! connections can be cut.
#![allow(clippy::unwrap_used, dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn kairos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kairos"))
}

/// Creates a store.
pub fn init_store(dir: &Path) {
    let out = kairos().arg("init").arg(dir).output().unwrap();
    assert!(
        out.status.success(),
        "init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `kairos` child process with its stderr lines collected.
pub struct Proc {
    pub child: Child,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    /// Starts `cmd` and waits for a stderr line containing `ready`; returns
    /// the process and that line.
    pub fn start(mut cmd: Command, ready: &str) -> (Self, String) {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = Arc::clone(&log);
            let ready = ready.to_owned();
            std::thread::spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if line.contains(&ready)
                        && let Some(tx) = tx.take()
                    {
                        let _ = tx.send(line.clone());
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
        let line = rx.recv_timeout(Duration::from_mins(1)).unwrap_or_else(|_| {
            panic!(
                "process never said {ready:?}; log: {:?}",
                log.lock().unwrap()
            )
        });
        (Self { child, log }, line)
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }

    pub fn term(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.child.wait();
    }

    pub fn log_has(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }

    pub fn wait_log(&self, needle: &str) {
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if self.log_has(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "no log line containing {needle:?}; log: {:?}",
            self.log.lock().unwrap()
        );
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The address at the end of a "... on ADDR" line.
pub fn addr_of(line: &str) -> String {
    line.rsplit(' ').next().unwrap().to_owned()
}

/// Starts `kairos serve` on `listen`; returns it and its address.
pub fn serve(store: &Path, tokens: &Path, listen: &str) -> (Proc, String) {
    let mut cmd = kairos();
    cmd.arg("--store")
        .arg(store)
        .args(["-v", "serve", "--listen", listen, "--tokens"])
        .arg(tokens);
    let (p, line) = Proc::start(cmd, "kairos: serving store");
    let addr = addr_of(&line);
    (p, addr)
}

/// A TCP proxy to `target` whose live connections can be cut at once.
pub struct Proxy {
    pub addr: String,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    pub fn start(target: String) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        {
            let conns = Arc::clone(&conns);
            std::thread::spawn(move || {
                for c in l.incoming() {
                    let Ok(client) = c else { continue };
                    let Ok(server) = TcpStream::connect(&target) else {
                        continue;
                    };
                    conns.lock().unwrap().push(client.try_clone().unwrap());
                    conns.lock().unwrap().push(server.try_clone().unwrap());
                    pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                    pipe(server, client);
                }
            });
        }
        Self { addr, conns }
    }

    /// Cuts every live connection (both directions), like a network failure.
    pub fn cut(&self) {
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

/// Writes a tokens file and one token file per agent; returns their paths.
pub fn tokens(dir: &Path, agents: &[(&str, &str)]) -> (PathBuf, Vec<PathBuf>) {
    let all = dir.join("tokens");
    let mut text = String::from("# agent token\n");
    let mut each = Vec::new();
    for (name, token) in agents {
        text += &[*name, " ", *token, "\n"].concat();
        let p = dir.join(format!("{name}.token"));
        std::fs::write(&p, format!("{name} {token}\n")).unwrap();
        each.push(p);
    }
    std::fs::write(&all, text).unwrap();
    (all, each)
}
