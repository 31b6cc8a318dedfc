//! Shared by the server tests (`mod server_common;`): a raw RESP connection that reads whole
//! replies as their exact bytes, and a served cluster.
#![allow(dead_code)] // each test binary uses a different part of this module

use slotstore::{Cluster, Server, ServerConfig};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub fn serve(primaries: usize, replicas: usize, config: ServerConfig) -> (Cluster, Server) {
    let cluster = Cluster::builder()
        .primaries(primaries)
        .replicas(replicas)
        .node_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let server = cluster.serve(config).unwrap();
    (cluster, server)
}

/// A raw connection: sends bytes, reads one whole RESP reply as its raw text.
pub struct Raw {
    r: BufReader<TcpStream>,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Raw { r: BufReader::new(s) }
    }

    /// Writes without asserting (the server may have closed the connection).
    pub fn r_write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.r.get_mut().write_all(bytes)
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.r.get_mut().write_all(bytes).unwrap();
    }

    pub fn cmd(&mut self, words: &[&str]) -> String {
        let mut out = format!("*{}\r\n", words.len());
        for w in words {
            out.push_str(&format!("${}\r\n{w}\r\n", w.len()));
        }
        self.send(out.as_bytes());
        self.reply()
    }

    pub fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        l
    }

    /// One reply, raw, nested replies included.
    pub fn reply(&mut self) -> String {
        let line = self.line();
        let mut out = line.clone();
        let n: i64 = line.get(1..line.len().saturating_sub(2)).and_then(|s| s.parse().ok()).unwrap_or(0);
        match line.as_bytes().first() {
            Some(b'$' | b'=') if n >= 0 => {
                let mut body = vec![0u8; n as usize + 2];
                self.r.read_exact(&mut body).unwrap();
                out.push_str(&String::from_utf8_lossy(&body));
            }
            Some(b'*' | b'~' | b'>') if n > 0 => (0..n).for_each(|_| out.push_str(&self.reply())),
            Some(b'%') if n > 0 => (0..2 * n).for_each(|_| out.push_str(&self.reply())),
            _ => {}
        }
        out
    }

    /// True once the server has closed the connection (EOF).
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.r.read(&mut b), Ok(0))
    }
}

pub fn first(server: &Server) -> SocketAddr {
    server.addresses()[0].1
}
