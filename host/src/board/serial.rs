//! A real board on a serial port (USB-serial adapter on GPIO 14/15).

use super::transport::Transport;
use super::BoardError;
use std::time::Duration;

/// Opens `path` at `baud`, 8N1, no flow control.
pub fn open(path: &str, baud: u32) -> Result<Transport, BoardError> {
    let port = serialport::new(path, baud)
        .timeout(Duration::from_millis(200))
        .open()
        .map_err(|e| BoardError::Io(std::io::Error::other(format!("{path}: {e}"))))?;
    let reader = port.try_clone().map_err(|e| BoardError::Io(std::io::Error::other(format!("{path}: {e}"))))?;
    Ok(Transport::new(reader, port))
}
