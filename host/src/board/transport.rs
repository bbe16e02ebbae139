//! A byte pipe to the board with read deadlines. A reader thread drains the
//! board's output into a channel, so reads can time out even on pipes, and
//! end-of-stream (QEMU exited, cable pulled) is seen at once.

use super::faults::LineNoise;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::Instant;

pub struct Transport {
    writer: Box<dyn Write + Send>,
    rx: Receiver<Vec<u8>>,
    pending: VecDeque<u8>,
    closed: bool,
    /// Test damage on what is sent and on what is received.
    noise: Option<(LineNoise, LineNoise)>,
}

/// One read outcome.
pub enum Byte {
    Data(u8),
    Timeout,
    Closed,
}

impl Transport {
    pub fn new(mut reader: impl Read + Send + 'static, writer: impl Write + Send + 'static) -> Self {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                    // A serial port's read timeout is not the end of the stream.
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
        });
        Transport { writer: Box::new(writer), rx, pending: VecDeque::new(), closed: false, noise: None }
    }

    /// Damages every byte in both directions with probability `rate`
    /// (seeded; see [`LineNoise`]): for testing the link's recovery.
    pub fn add_noise(&mut self, rate: f64, seed: u64) {
        self.noise = Some((LineNoise::new(rate, seed), LineNoise::new(rate, seed ^ 0x5EED)));
    }

    /// Bytes damaged so far by [`add_noise`](Self::add_noise), sent and received.
    pub fn damaged(&self) -> (u64, u64) {
        self.noise.as_ref().map_or((0, 0), |(out, back)| (out.damaged, back.damaged))
    }

    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let damaged;
        let bytes = match &mut self.noise {
            Some((out, _)) => {
                std::thread::sleep(out.stall());
                damaged = out.pass(bytes);
                &damaged[..]
            }
            None => bytes,
        };
        self.writer.write_all(bytes)?;
        self.writer.flush()
    }

    pub fn recv(&mut self, deadline: Instant) -> Byte {
        loop {
            if let Some(b) = self.pending.pop_front() {
                return Byte::Data(b);
            }
            if self.closed {
                return Byte::Closed;
            }
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(wait) {
                Ok(chunk) => match &mut self.noise {
                    Some((_, back)) => self.pending.extend(back.pass(&chunk)),
                    None => self.pending.extend(chunk),
                },
                Err(RecvTimeoutError::Timeout) => return Byte::Timeout,
                Err(RecvTimeoutError::Disconnected) => self.closed = true,
            }
        }
    }
}
