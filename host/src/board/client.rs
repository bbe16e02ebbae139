//! The host end of the link: numbered requests, replies matched by sequence
//! number, and resending on a timeout, a damaged reply or a NAK, up to a
//! limit. Nothing waits forever: every read has a deadline. On a noisy line
//! image chunks shrink (down to [`MIN_CHUNK`] bytes) so that frames still
//! pass, and grow back once they pass cleanly; every frame is followed by a
//! second delimiter ([`FRAME_GUARD`]).

use super::transport::{Byte, Transport};
use super::BoardError;
use shared::format::crc32;
use shared::link::{
    decode_frame, encode_frame, DeviceInfo, ErrorCode, Frame, FrameReader, InferResult, LayerCycles, Request, Response,
    CHUNK_LEN, FRAME_GUARD, MAX_BATCH, MAX_FRAME, PROTOCOL_VERSION,
};
use shared::spec::Shape;
use std::time::{Duration, Instant};

/// Counters a run reports, so a flaky cable shows up in the numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub frames_sent: u64,
    pub resends: u64,
    pub timeouts: u64,
    pub bad_frames: u64,
    pub naks: u64,
    /// Images the board forgot mid-way because it restarted.
    pub board_restarts: u64,
}

/// Deliberate damage to outgoing frames, for testing the retry path.
#[derive(Clone, Copy, Debug, Default)]
pub struct FaultInjection {
    /// Flip one byte in every n-th frame sent (0 = never).
    pub corrupt_every: u64,
}

/// What arrived while waiting for a reply.
enum Reply {
    /// Boxed: a layer-cycles reply is far larger than the other variants.
    Frame(u16, Box<Response>),
    /// Bytes that are not a valid frame (noise, boot text, damage).
    Damaged,
    Timeout,
}

/// A frame the reader completed, decoded as the board's reply: its sequence
/// number and response, or else the frame's bytes (boot text, noise or
/// damage; none for an overflow) for the board output a failure shows.
pub fn decode_reply(frame: Frame<'_>) -> Result<(u16, Response), Vec<u8>> {
    match frame {
        Frame::Overflow => Err(Vec::new()),
        Frame::Body(body) => {
            let raw = body.to_vec();
            decode_frame::<Response>(body).map_err(|_| raw)
        }
    }
}

/// The link protocol of a reply that does not decode but begins as an
/// `Info` of another protocol version (`DeviceInfo::protocol` is its first
/// field, so every version's hello reply starts the same way): a board
/// whose firmware is from another version of this project.
fn other_protocol(raw: &[u8]) -> Option<u16> {
    let mut body = raw.to_vec();
    match decode_frame::<(u32, u16)>(&mut body) {
        Ok((_, (0, protocol))) if protocol != PROTOCOL_VERSION => Some(protocol),
        _ => None,
    }
}

pub struct Client {
    transport: Transport,
    reader: FrameReader,
    seq: u16,
    pub stats: LinkStats,
    pub faults: FaultInjection,
    /// Silent tries (no reply before the deadline) per request before giving
    /// up; a board that answers, if only with damage or NAKs, gets four
    /// times as many tries.
    pub max_tries: u32,
    /// Deadline for a reply to anything but inference.
    pub reply_timeout: Duration,
    /// Deadline for an inference result (the paper network takes seconds
    /// under QEMU).
    pub infer_timeout: Duration,
    /// Text the board printed outside frames (banner, panic messages).
    output: String,
    /// Send an image's frames back to back instead of one per reply. Only
    /// for a link that holds bytes while the board is busy, never drops
    /// them: the virtual board's pipe (QEMU reads it only as fast as the
    /// UART takes bytes). A real UART without flow control has a 16-byte
    /// FIFO, so there the host waits for each reply.
    pub pipelined: bool,
    /// Image bytes per chunk now: halved when a chunk needed resending (a
    /// noisy line passes short frames more often), doubled back after
    /// [`CLEAN_RUN`] clean ones.
    chunk_len: usize,
    clean_chunks: u32,
    /// The model the board reported at the last Hello.
    model_checksum: Option<u32>,
}

/// Restarts of the board within one image before the client gives up on
/// it: a board that keeps resetting has a fault a retry will not mend.
pub const MAX_RESTARTS_PER_IMAGE: u32 = 3;

/// The shortest chunk a noisy line falls back to.
pub const MIN_CHUNK: usize = 16;
/// Chunks acknowledged at the first try before the chunk length doubles.
pub const CLEAN_RUN: u32 = 16;

impl Client {
    pub fn new(transport: Transport) -> Self {
        Client {
            transport,
            reader: FrameReader::default(),
            seq: 0,
            stats: LinkStats::default(),
            faults: FaultInjection::default(),
            max_tries: 8,
            reply_timeout: Duration::from_secs(3),
            infer_timeout: Duration::from_secs(120),
            output: String::new(),
            pipelined: false,
            chunk_len: CHUNK_LEN,
            clean_chunks: 0,
            model_checksum: None,
        }
    }

    /// Damages the link's bytes in both directions (see [`Transport::add_noise`]).
    pub fn add_noise(&mut self, rate: f64, seed: u64) {
        self.transport.add_noise(rate, seed);
    }

    /// Bytes the added noise damaged so far: sent, received.
    pub fn damaged(&self) -> (u64, u64) {
        self.transport.damaged()
    }

    /// Image bytes per chunk now.
    pub fn chunk_len(&self) -> usize {
        self.chunk_len
    }

    /// Sends one chunk of image `id` from `offset`, as long as the line
    /// lets through: a chunk that fails twice is cut in half and sent again
    /// (the board takes any length at any offset), down to [`MIN_CHUNK`],
    /// which gets every try. Returns the bytes sent.
    fn send_chunk(&mut self, id: u32, image: &[u8], offset: usize) -> Result<usize, BoardError> {
        loop {
            let data = &image[offset..(offset + self.chunk_len).min(image.len())];
            let shortest = self.chunk_len <= MIN_CHUNK;
            let tries = if shortest { 4 * self.max_tries } else { 2 };
            let resends = self.stats.resends;
            let request = Request::ImageChunk { id, offset: offset as u32, data };
            match self.expect_ack_tries(&request, tries) {
                Ok(()) => {
                    self.clean_chunks = if self.stats.resends == resends { self.clean_chunks + 1 } else { 0 };
                    if self.clean_chunks >= CLEAN_RUN {
                        self.chunk_len = (self.chunk_len * 2).min(CHUNK_LEN);
                        self.clean_chunks = 0;
                    }
                    return Ok(data.len());
                }
                Err(BoardError::NoResponse { .. }) if !shortest => {
                    self.stats.resends += 1;
                    self.chunk_len = (self.chunk_len / 2).max(MIN_CHUNK);
                    self.clean_chunks = 0;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// What the board printed outside frames so far.
    pub fn output(&self) -> &str {
        &self.output
    }

    fn note_text(&mut self, bytes: &[u8]) {
        self.output.extend(bytes.iter().filter(|b| b.is_ascii() && **b != 0).map(|b| *b as char));
        if self.output.len() > 8192 {
            let cut = self.output.len() - 4096;
            self.output.drain(..cut);
        }
    }

    /// Next complete frame before `deadline`, decoded as a response.
    fn next_reply(&mut self, deadline: Instant) -> Result<Reply, BoardError> {
        loop {
            match self.transport.recv(deadline) {
                Byte::Timeout => return Ok(Reply::Timeout),
                Byte::Closed => return Err(BoardError::Closed { output: self.output.clone() }),
                Byte::Data(b) => {
                    let Some(frame) = self.reader.push(b) else { continue };
                    return Ok(match decode_reply(frame) {
                        Ok((seq, response)) => Reply::Frame(seq, Box::new(response)),
                        Err(raw) => {
                            if let Some(board) = other_protocol(&raw) {
                                return Err(BoardError::Protocol { board, host: PROTOCOL_VERSION });
                            }
                            self.note_text(&raw);
                            Reply::Damaged
                        }
                    });
                }
            }
        }
    }

    /// Sends `request` and returns the reply to it, resending as needed.
    pub fn request(&mut self, request: &Request, timeout: Duration) -> Result<Response, BoardError> {
        self.request_tries(request, timeout, 4 * self.max_tries)
    }

    /// [`request`](Self::request) with at most `max_total` tries.
    fn request_tries(&mut self, request: &Request, timeout: Duration, max_total: u32) -> Result<Response, BoardError> {
        self.seq = self.seq.wrapping_add(1);
        let mut frame = [0u8; MAX_FRAME];
        let len = encode_frame(self.seq, request, &mut frame)?;
        let (mut timeouts, mut bad, mut tries) = (0, 0, 0);
        while timeouts < self.max_tries && tries < max_total {
            if tries > 0 {
                self.stats.resends += 1;
            }
            tries += 1;
            self.stats.frames_sent += 1;
            let mut bytes = frame[..len].to_vec();
            let every = self.faults.corrupt_every;
            if every > 0 && self.stats.frames_sent.is_multiple_of(every) {
                // Damage the body, keep the delimiter so framing survives.
                let i = (len - 1) / 2;
                bytes[i] = bytes[i].wrapping_add(0x55) | 1;
            }
            bytes.extend_from_slice(&FRAME_GUARD);
            self.transport.send(&bytes)?;
            let deadline = Instant::now() + timeout;
            loop {
                match self.next_reply(deadline)? {
                    Reply::Timeout => {
                        timeouts += 1;
                        self.stats.timeouts += 1;
                        break;
                    }
                    Reply::Damaged => {
                        // The reply to this try, or a board's boot text: either
                        // way, ask again now rather than wait out the deadline.
                        bad += 1;
                        self.stats.bad_frames += 1;
                        break;
                    }
                    Reply::Frame(_, reply) if *reply == Response::Nak => {
                        self.stats.naks += 1;
                        break;
                    }
                    Reply::Frame(seq, reply) if seq == self.seq => return Ok(*reply),
                    // A late reply to an earlier try or request.
                    Reply::Frame(..) => {}
                }
            }
        }
        Err(BoardError::NoResponse { tries, timeouts, bad_frames: bad, output: self.output.clone() })
    }

    /// Waits until a board that was just started is listening: it prints its
    /// banner, checks the model, then sends a lone frame delimiter and starts
    /// reading. A frame sent before that can meet a UART that is not set up
    /// yet and arrive damaged. Gives up quietly at `timeout`: the retries of
    /// the first request take over from there.
    pub fn await_ready(&mut self, timeout: Duration) -> Result<(), BoardError> {
        let deadline = Instant::now() + timeout;
        let mut text = Vec::new();
        loop {
            match self.transport.recv(deadline) {
                Byte::Data(0) | Byte::Timeout => break,
                Byte::Data(b) => text.push(b),
                Byte::Closed => {
                    self.note_text(&text);
                    return Err(BoardError::Closed { output: self.output.clone() });
                }
            }
        }
        self.note_text(&text);
        self.reader = FrameReader::default();
        Ok(())
    }

    /// Asks what the board runs. `timeout` covers boot: the firmware checks
    /// the model's CRC before it answers (seconds for the paper model on QEMU).
    pub fn hello(&mut self, timeout: Duration) -> Result<DeviceInfo, BoardError> {
        match self.request(&Request::Hello, timeout)? {
            Response::Info(info) => {
                self.model_checksum = info.model.as_ref().ok().map(|m| m.checksum);
                Ok(info)
            }
            other => Err(BoardError::Unexpected(format!("{other:?}"))),
        }
    }

    fn expect_ack(&mut self, request: &Request) -> Result<(), BoardError> {
        self.expect_ack_tries(request, 4 * self.max_tries)
    }

    /// [`expect_ack`](Self::expect_ack) with at most `max_total` tries.
    fn expect_ack_tries(&mut self, request: &Request, max_total: u32) -> Result<(), BoardError> {
        match self.request_tries(request, self.reply_timeout, max_total)? {
            Response::Ack => Ok(()),
            Response::Error(code) => Err(BoardError::Device(code)),
            other => Err(BoardError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Sends one image (CHW bytes of `shape`) and returns the device's result.
    pub fn infer(&mut self, id: u32, image: &[u8], shape: Shape) -> Result<InferResult, BoardError> {
        // On a line that lately needed shorter chunks, a whole image at once
        // would rarely arrive intact.
        if self.pipelined && self.chunk_len == CHUNK_LEN {
            if let Some(result) = self.infer_pipelined(id, image, shape)? {
                return Ok(result);
            }
            // Anything short of a clean result: once more, a reply per frame,
            // once the replies to the rest of the burst are over (a NAK
            // carries no sequence number, so a late one would be taken for
            // the answer to the next request).
            self.stats.resends += 1;
            self.drain(Duration::from_millis(100), Duration::from_secs(2))?;
        }
        let mut restarts = 0;
        loop {
            match self.infer_framed(id, image, shape) {
                // The board does not know the image it was being sent: it
                // restarted since BeginImage (a reset, a power dip) and came
                // back up. Same model, or the answers would not be its.
                Err(BoardError::Device(ErrorCode::UnknownImage)) => {
                    restarts += 1;
                    self.stats.board_restarts += 1;
                    self.check_model_after_restart()?;
                    if restarts >= MAX_RESTARTS_PER_IMAGE {
                        return Err(BoardError::Restarting { id, times: restarts });
                    }
                }
                done => return done,
            }
        }
    }

    /// A board that restarted must still hold the model it answered Hello
    /// with before (if the host asked).
    fn check_model_after_restart(&mut self) -> Result<(), BoardError> {
        let Some(before) = self.model_checksum else { return Ok(()) };
        let after = self.hello(self.reply_timeout)?.model.map_err(BoardError::Device)?.checksum;
        if after != before {
            return Err(BoardError::ModelChanged { before, after });
        }
        Ok(())
    }

    /// One image, a reply per frame.
    fn infer_framed(&mut self, id: u32, image: &[u8], shape: Shape) -> Result<InferResult, BoardError> {
        self.expect_ack(&Request::BeginImage { id, shape })?;
        let mut offset = 0;
        while offset < image.len() {
            offset += self.send_chunk(id, image, offset)?;
        }
        match self.request(&Request::Infer { id, crc: crc32(image) }, self.infer_timeout)? {
            Response::Result(r) if r.id == id => Ok(r),
            Response::Error(code) => Err(BoardError::Device(code)),
            other => Err(BoardError::Unexpected(format!("{other:?}"))),
        }
    }

    /// [`infer`](Client::infer) with every frame of the image sent at once,
    /// then the replies read: one round trip per image instead of one per
    /// frame. The board checks the whole image's CRC before it runs, so a
    /// result means every chunk arrived; `None` (a NAK, a damaged or missing
    /// reply, an error) leaves the image to the frame-by-frame path, whose
    /// requests carry newer sequence numbers than any late reply to these.
    fn infer_pipelined(&mut self, id: u32, image: &[u8], shape: Shape) -> Result<Option<InferResult>, BoardError> {
        let requests = std::iter::once(Request::BeginImage { id, shape })
            .chain(image.chunks(CHUNK_LEN).enumerate().map(|(k, data)| Request::ImageChunk {
                id,
                offset: (k * CHUNK_LEN) as u32,
                data,
            }))
            .chain(std::iter::once(Request::Infer { id, crc: crc32(image) }));
        let mut bytes = Vec::with_capacity(image.len() + 64 * (image.len() / CHUNK_LEN + 2));
        let mut frame = [0u8; MAX_FRAME];
        for request in requests {
            self.seq = self.seq.wrapping_add(1);
            let len = encode_frame(self.seq, &request, &mut frame)?;
            self.stats.frames_sent += 1;
            let start = bytes.len();
            bytes.extend_from_slice(&frame[..len]);
            let every = self.faults.corrupt_every;
            if every > 0 && self.stats.frames_sent.is_multiple_of(every) {
                // Damage the body, keep the delimiter so framing survives.
                let i = start + (len - 1) / 2;
                bytes[i] = bytes[i].wrapping_add(0x55) | 1;
            }
            bytes.extend_from_slice(&FRAME_GUARD);
        }
        self.transport.send(&bytes)?;
        let (last, deadline) = (self.seq, Instant::now() + self.infer_timeout);
        loop {
            match self.next_reply(deadline)? {
                Reply::Timeout => {
                    self.stats.timeouts += 1;
                    return Ok(None);
                }
                Reply::Damaged => {
                    self.stats.bad_frames += 1;
                    return Ok(None);
                }
                Reply::Frame(_, reply) if *reply == Response::Nak => {
                    self.stats.naks += 1;
                    return Ok(None);
                }
                Reply::Frame(seq, reply) if seq == last => {
                    return Ok(match *reply {
                        Response::Result(r) if r.id == id => Some(r),
                        _ => None,
                    });
                }
                // Acks of the image's frames, or a late reply to an earlier request.
                Reply::Frame(..) => {}
            }
        }
    }

    /// Reads and drops whatever arrives until the line has been quiet for
    /// `quiet` (or `limit` has passed).
    fn drain(&mut self, quiet: Duration, limit: Duration) -> Result<(), BoardError> {
        let end = Instant::now() + limit;
        loop {
            let deadline = (Instant::now() + quiet).min(end);
            match self.transport.recv(deadline) {
                Byte::Data(_) => {}
                Byte::Timeout => break,
                Byte::Closed => return Err(BoardError::Closed { output: self.output.clone() }),
            }
            if Instant::now() >= end {
                break;
            }
        }
        self.reader = FrameReader::default();
        Ok(())
    }

    /// Runs test image `index` of the set stored on the board's card
    /// (`host flash --images`): a request of a few bytes and the result.
    pub fn infer_card(&mut self, index: u32) -> Result<InferResult, BoardError> {
        match self.request(&Request::InferCard { index }, self.infer_timeout)? {
            Response::Result(r) if r.id == index => Ok(r),
            Response::Error(code) => Err(BoardError::Device(code)),
            other => Err(BoardError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Runs the card's test images `indices` together (at most the board's
    /// `DeviceInfo::max_batch`): dense layers read their weights once for
    /// every four of them. The answers come in the order of `indices`.
    pub fn infer_card_batch(&mut self, indices: &[u32]) -> Result<Vec<InferResult>, BoardError> {
        let request = Request::InferCardBatch {
            indices: heapless::Vec::from_slice(indices).map_err(|_| {
                BoardError::Unexpected(format!("a batch of {} images (at most {MAX_BATCH})", indices.len()))
            })?,
        };
        match self.request(&request, self.infer_timeout * indices.len().max(1) as u32)? {
            Response::Results(r) if r.iter().map(|r| r.id).eq(indices.iter().copied()) => Ok(r.into_iter().collect()),
            Response::Error(code) => Err(BoardError::Device(code)),
            other => Err(BoardError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Where the last inference spent its cycles, layer by layer.
    pub fn layer_cycles(&mut self) -> Result<LayerCycles, BoardError> {
        match self.request(&Request::LayerCycles, self.reply_timeout)? {
            Response::LayerCycles(p) => Ok(p),
            Response::Error(code) => Err(BoardError::Device(code)),
            other => Err(BoardError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Runs each layer's parts one after another (exact per-core counts on a
    /// virtual board under `-icount`).
    pub fn parts_in_turn(&mut self, on: bool) -> Result<(), BoardError> {
        self.expect_ack(&Request::PartsInTurn { on })
    }

    /// Asks the board to stop (QEMU exits with `status`).
    pub fn shutdown(&mut self, status: u8) -> Result<(), BoardError> {
        self.expect_ack(&Request::Shutdown { status })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::link::Board;

    /// The encoded body of a frame (without its delimiter), as the reader
    /// hands it over.
    fn body<T: serde::Serialize>(seq: u16, message: &T) -> Vec<u8> {
        let mut out = [0u8; MAX_FRAME];
        let n = encode_frame(seq, message, &mut out).unwrap();
        out[..n - 1].to_vec()
    }

    #[test]
    fn a_hello_reply_of_another_protocol_is_named() {
        // Protocol 3's Info: variant 0, protocol 3, then fields this host
        // would not decode.
        assert_eq!(other_protocol(&body(1, &(0u32, 3u16, [9u8; 7]))), Some(3));
        let info = DeviceInfo {
            protocol: PROTOCOL_VERSION,
            firmware: [0, 1, 0],
            board: Board::Rpi3,
            format_version: 4,
            cores: 4,
            buffer_capacity: 1,
            image_capacity: 1,
            model: Err(ErrorCode::BadRequest),
            card: Err(shared::card::CardError::Absent),
            max_batch: 0,
        };
        // This protocol's own reply, another reply, and damage are not a
        // protocol mismatch.
        assert_eq!(other_protocol(&body(1, &Response::Info(info))), None);
        assert_eq!(other_protocol(&body(2, &Response::Error(ErrorCode::BadRequest))), None);
        let mut damaged = body(1, &(0u32, 3u16, [9u8; 7]));
        damaged[3] ^= 0x40;
        assert_eq!(other_protocol(&damaged), None);
        let message = BoardError::Protocol { board: 3, host: PROTOCOL_VERSION }.to_string();
        assert!(message.contains("link protocol 3, this host 4") && message.contains("host flash"), "{message}");
    }
}
