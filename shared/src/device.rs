//! The device side of the link as a plain state machine: it takes decoded
//! requests and returns responses, with no I/O and no board knowledge. The
//! firmware wraps it in a UART loop; host tests drive it directly.

use crate::card::{CardError, CardImages};
use crate::format::{crc32, Model, FORMAT_VERSION};
use crate::image::resize_bilinear;
use crate::infer::Engine;
use crate::link::{
    decode_frame, Board, CardInfo, DeviceInfo, ErrorCode, Frame, InferResult, LayerCycles, ModelInfo, Request,
    Response, PROTOCOL_VERSION,
};
use crate::marks;
use crate::parallel::{OneCore, Workers};
use crate::spec::Shape;

/// The image being received.
#[derive(Clone, Copy, Debug)]
struct Incoming {
    id: u32,
    shape: Shape,
    received: usize,
}

/// Serves requests against one model with caller-provided memory.
pub struct Device<'m, 'b> {
    engine: Result<Engine<'m>, ErrorCode>,
    model_info: Result<ModelInfo, ErrorCode>,
    buffer: &'b mut [u8],
    image: &'b mut [u8],
    incoming: Option<Incoming>,
    last: Option<(u16, Response)>,
    /// Where the last inference spent its cycles.
    profile: Option<LayerCycles>,
    board: Board,
    firmware: [u8; 3],
    workers: &'b dyn Workers,
    /// Test images stored after the model (`crate::card`), or why there are none.
    card: Result<CardImages<'m>, CardError>,
}

impl<'m, 'b> Device<'m, 'b> {
    /// `model` is the result of parsing the model region at boot; a refused
    /// model still yields a device that answers every request with the reason.
    pub fn new(
        model: Result<&'m Model<'m>, ErrorCode>,
        buffer: &'b mut [u8],
        image: &'b mut [u8],
        board: Board,
        firmware: [u8; 3],
    ) -> Self {
        let engine = model.and_then(|m| {
            let engine = Engine::new(m).map_err(|_| ErrorCode::BadRequest)?;
            if engine.buffer_len() > buffer.len() {
                // The wire carries u32: sizes past 4 GiB saturate rather
                // than wrap to a small, wrong number.
                let saturate = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
                return Err(ErrorCode::ArenaTooSmall {
                    needed: saturate(engine.buffer_len()),
                    available: saturate(buffer.len()),
                });
            }
            Ok(engine)
        });
        let model_info = engine.as_ref().map_err(|e| *e).map(|e| {
            let m = e.model();
            ModelInfo {
                checksum: m.checksum(),
                file_len: m.file_len() as u32,
                input: m.spec().input,
                classes: m.spec().classes(),
                buffer_len: e.buffer_len() as u32,
            }
        });
        let workers = &OneCore;
        Device {
            engine,
            model_info,
            buffer,
            image,
            incoming: None,
            last: None,
            profile: None,
            board,
            firmware,
            workers,
            card: Err(CardError::Absent),
        }
    }

    /// Serves `InferCard` from `card`: the image set stored after the model,
    /// as parsed at boot.
    pub fn with_card(mut self, card: Result<CardImages<'m>, CardError>) -> Self {
        self.card = card;
        self
    }

    /// Splits each inference over `workers` (the board's cores).
    pub fn with_workers(mut self, workers: &'b dyn Workers) -> Self {
        self.workers = workers;
        self
    }

    pub fn info(&self) -> DeviceInfo {
        DeviceInfo {
            protocol: PROTOCOL_VERSION,
            firmware: self.firmware,
            board: self.board,
            cores: self.workers.parts().min(u8::MAX as usize) as u8,
            format_version: FORMAT_VERSION,
            buffer_capacity: self.buffer.len() as u32,
            image_capacity: self.image.len() as u32,
            model: self.model_info,
            card: self.card.map(|c| CardInfo { images: c.len(), crc: c.crc() }),
        }
    }

    /// Answers one frame off the line, as the firmware's serve loop does
    /// (and the fuzz target and host tests with it): a request gets
    /// [`handle`](Self::handle)'s reply, a damaged or oversized frame a NAK
    /// (sequence 0: it has none), a Shutdown an Ack and its status.
    pub fn answer(&mut self, frame: Frame<'_>, cycles: &impl Fn() -> u64) -> (u16, Response, Option<u8>) {
        match frame {
            Frame::Overflow => (0, Response::Nak, None),
            Frame::Body(body) => match decode_frame::<Request>(body) {
                Ok((seq, Request::Shutdown { status })) => (seq, Response::Ack, Some(status)),
                Ok((seq, request)) => (seq, self.handle(seq, &request, cycles), None),
                Err(_) => (0, Response::Nak, None),
            },
        }
    }

    /// Answers one request. A repeated sequence number (the host resending
    /// after a lost reply) gets the stored reply without acting again.
    /// `cycles` reads the cycle counter, to time inference.
    pub fn handle(&mut self, seq: u16, request: &Request, cycles: &impl Fn() -> u64) -> Response {
        if let Some((last_seq, reply)) = &self.last {
            if *last_seq == seq {
                return reply.clone();
            }
        }
        let reply = self.act(request, cycles).unwrap_or_else(Response::Error);
        self.last = Some((seq, reply.clone()));
        reply
    }

    fn act(&mut self, request: &Request, cycles: &impl Fn() -> u64) -> Result<Response, ErrorCode> {
        match *request {
            Request::Hello => Ok(Response::Info(self.info())),
            Request::BeginImage { id, shape } => {
                let engine = self.engine.as_ref().map_err(|e| *e)?;
                let input = engine.model().spec().input;
                if shape.c != input.c {
                    return Err(ErrorCode::ImageChannels { expected: input.c, found: shape.c });
                }
                // The host's numbers: 3 x 2^32 x 2^32 values do not fit a usize.
                let len = shape.checked_len().unwrap_or(usize::MAX);
                if len > self.image.len() || len == 0 {
                    return Err(ErrorCode::ImageTooLarge {
                        len: len.min(u32::MAX as usize) as u32,
                        capacity: self.image.len() as u32,
                    });
                }
                self.incoming = Some(Incoming { id, shape, received: 0 });
                Ok(Response::Ack)
            }
            Request::ImageChunk { id, offset, data } => {
                let incoming = self.incoming.as_mut().filter(|i| i.id == id).ok_or(ErrorCode::UnknownImage)?;
                let start = offset as usize;
                let end = start.checked_add(data.len()).filter(|e| *e <= incoming.shape.len());
                let end = end.ok_or(ErrorCode::ChunkOutOfBounds)?;
                self.image[start..end].copy_from_slice(data);
                incoming.received = incoming.received.max(end);
                Ok(Response::Ack)
            }
            Request::Infer { id, crc } => {
                let incoming = self.incoming.filter(|i| i.id == id).ok_or(ErrorCode::UnknownImage)?;
                let image = &self.image[..incoming.shape.len()];
                if incoming.received != image.len() {
                    return Err(ErrorCode::ImageIncomplete);
                }
                if crc32(image) != crc {
                    return Err(ErrorCode::ImageCrcMismatch);
                }
                let engine = self.engine.as_ref().map_err(|e| *e)?;
                let (result, profile) = infer(engine, self.buffer, self.workers, id, image, incoming.shape, cycles)?;
                self.profile = Some(profile);
                Ok(Response::Result(result))
            }
            Request::InferCard { index } => {
                let engine = self.engine.as_ref().map_err(|e| *e)?;
                let card = self.card.map_err(|_| ErrorCode::NoCardImage { index, count: 0 })?;
                let (shape, image) = card.get(index).ok_or(ErrorCode::NoCardImage { index, count: card.len() })?;
                if shape.c != engine.model().spec().input.c {
                    return Err(ErrorCode::ImageChannels { expected: engine.model().spec().input.c, found: shape.c });
                }
                let (result, profile) = infer(engine, self.buffer, self.workers, index, image, shape, cycles)?;
                self.profile = Some(profile);
                Ok(Response::Result(result))
            }
            Request::LayerCycles => self.profile.clone().map(Response::LayerCycles).ok_or(ErrorCode::UnknownImage),
            Request::PartsInTurn { on } => {
                self.workers.run_parts_in_turn(on);
                Ok(Response::Ack)
            }
            Request::Shutdown { .. } => Ok(Response::Ack),
        }
    }
}

/// Runs `engine` on `image` (of `shape`, resized to the model's input as on
/// the host), timed with `cycles` stage by stage.
fn infer(
    engine: &Engine,
    buffer: &mut [u8],
    workers: &dyn Workers,
    id: u32,
    image: &[u8],
    shape: Shape,
    cycles: &impl Fn() -> u64,
) -> Result<(InferResult, LayerCycles), ErrorCode> {
    let input = engine.model().spec().input;
    workers.mark_segment(marks::PREPARE);
    let start = cycles();
    let region = engine.input_region(buffer).map_err(|_| ErrorCode::BadRequest)?;
    resize_bilinear(image, shape, region, input);
    let prepared = cycles();
    let _ = workers.take_instructions(); // counts start at the first layer
    workers.mark_segment(marks::layer(0));
    let mut profile = LayerCycles {
        id,
        prepare: prepared.wrapping_sub(start),
        layers: heapless::Vec::new(),
        critical: heapless::Vec::new(),
        instructions: heapless::Vec::new(),
    };
    let mut last = prepared;
    let saturated = |n: u64| n.min(u32::MAX as u64) as u32;
    let top5 = engine
        .run_in_place_on(buffer, workers, |index| {
            let now = cycles();
            // The spec has at most MAX_LAYERS layers, so no push fails.
            let _ = profile.layers.push(now.wrapping_sub(last));
            if let Some(n) = workers.take_instructions() {
                let _ = profile.critical.push(saturated(n.critical));
                let _ = profile.instructions.push(saturated(n.total));
            }
            last = now;
            let last_layer = index + 1 == engine.model().spec().layers.len();
            workers.mark_segment(if last_layer { marks::OUTSIDE } else { marks::layer(index + 1) });
        })
        .map_err(|_| ErrorCode::BadRequest)?;
    Ok((InferResult { id, top5, cycles: last.wrapping_sub(start) }, profile))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::float::FloatModel;
    use crate::format::AlignedBytes;
    use crate::link::ModelError;
    use crate::quantize::{quantize, Calibration, RangeMethod};
    use crate::spec::AlexNetConfig;

    fn model_file() -> AlignedBytes {
        let spec = AlexNetConfig::small(Shape::new(1, 32, 32), 10).with_width(0.25).build().unwrap();
        let float = FloatModel::random(&spec, 1);
        let images: std::vec::Vec<std::vec::Vec<u8>> =
            (0..4).map(|k| (0..spec.input.len()).map(|i| ((i * 7 + k * 31) % 256) as u8).collect()).collect();
        let cal = Calibration::collect(&float, images.iter().map(|v| v.as_slice()), RangeMethod::MinMax);
        AlignedBytes::new(&quantize(&float, &cal).unwrap())
    }

    fn send_image(dev: &mut Device, seq: &mut u16, id: u32, image: &[u8], shape: Shape) -> Response {
        let clock = || 0u64;
        let mut next = || {
            *seq += 1;
            *seq
        };
        assert_eq!(dev.handle(next(), &Request::BeginImage { id, shape }, &clock), Response::Ack);
        for (k, chunk) in image.chunks(100).enumerate() {
            let req = Request::ImageChunk { id, offset: (k * 100) as u32, data: chunk };
            assert_eq!(dev.handle(next(), &req, &clock), Response::Ack);
        }
        dev.handle(next(), &Request::Infer { id, crc: crc32(image) }, &clock)
    }

    #[test]
    fn device_results_equal_host_engine_including_resize() {
        let file = model_file();
        let model = Model::parse(&file).unwrap();
        let mut buffer = std::vec![0u8; 1 << 20];
        let mut image_buf = std::vec![0u8; 4096];
        let mut dev = Device::new(Ok(&model), &mut buffer, &mut image_buf, Board::Rpi3, [0, 1, 0]);
        let native = Shape::new(1, 28, 28);
        let image: std::vec::Vec<u8> = (0..native.len()).map(|i| (i * 13 % 256) as u8).collect();
        let mut seq = 0;
        let Response::Result(r) = send_image(&mut dev, &mut seq, 5, &image, native) else { panic!("no result") };

        let engine = Engine::new(&model).unwrap();
        let mut host_buf = std::vec![0u8; engine.buffer_len()];
        let mut resized = std::vec![0u8; model.spec().input.len()];
        resize_bilinear(&image, native, &mut resized, model.spec().input);
        assert_eq!(r.top5, engine.run(&resized, &mut host_buf).unwrap());
        assert_eq!(r.id, 5);
    }

    #[test]
    fn card_images_give_the_answers_the_link_gives() {
        let file = model_file();
        let model = Model::parse(&file).unwrap();
        let shapes = [Shape::new(1, 28, 28), model.spec().input, Shape::new(1, 40, 36)];
        let images: std::vec::Vec<std::vec::Vec<u8>> =
            shapes.iter().enumerate().map(|(k, s)| (0..s.len()).map(|i| (i * 11 + k * 5) as u8).collect()).collect();
        let set = crate::card::write(shapes.iter().zip(&images).map(|(s, b)| (*s, b.as_slice()))).unwrap();
        let card = CardImages::parse(&set);
        let (mut buffer, mut image_buf) = (std::vec![0u8; 1 << 20], std::vec![0u8; 4096]);
        let mut dev = Device::new(Ok(&model), &mut buffer, &mut image_buf, Board::Rpi4, [0, 1, 0]).with_card(card);
        let info = dev.info();
        assert_eq!(info.card, Ok(CardInfo { images: 3, crc: card.unwrap().crc() }));
        let mut seq = 0;
        for (k, (shape, image)) in shapes.iter().zip(&images).enumerate() {
            seq += 1;
            let Response::Result(from_card) = dev.handle(seq, &Request::InferCard { index: k as u32 }, &|| 0) else {
                panic!("no result for card image {k}")
            };
            assert_eq!(from_card.id, k as u32);
            let Response::Result(sent) = send_image(&mut dev, &mut seq, 40 + k as u32, image, *shape) else {
                panic!("no result")
            };
            assert_eq!(from_card.top5, sent.top5, "card image {k}");
            seq += 1;
        }
        let past = Request::InferCard { index: 3 };
        assert_eq!(dev.handle(seq + 1, &past, &|| 0), Response::Error(ErrorCode::NoCardImage { index: 3, count: 3 }));

        let (mut buffer, mut image_buf) = (std::vec![0u8; 1 << 20], std::vec![0u8; 64]);
        let mut bare = Device::new(Ok(&model), &mut buffer, &mut image_buf, Board::Rpi3, [0, 1, 0]);
        assert_eq!(bare.info().card, Err(CardError::Absent));
        let first = Request::InferCard { index: 0 };
        assert_eq!(bare.handle(1, &first, &|| 0), Response::Error(ErrorCode::NoCardImage { index: 0, count: 0 }));
    }

    #[test]
    fn layer_cycles_add_up_to_the_inference_cycles() {
        let file = model_file();
        let model = Model::parse(&file).unwrap();
        let (mut buffer, mut image_buf) = (std::vec![0u8; 1 << 20], std::vec![0u8; 4096]);
        let mut dev = Device::new(Ok(&model), &mut buffer, &mut image_buf, Board::Rpi3, [0, 1, 0]);
        assert_eq!(dev.handle(1, &Request::LayerCycles, &|| 0), Response::Error(ErrorCode::UnknownImage));
        // A clock that advances by a different amount at every read.
        let ticks = core::cell::Cell::new(0u64);
        let clock = || {
            ticks.set(ticks.get() * 3 + 1);
            ticks.get()
        };
        let shape = model.spec().input;
        let image = std::vec![7u8; shape.len()];
        assert_eq!(dev.handle(2, &Request::BeginImage { id: 4, shape }, &clock), Response::Ack);
        let chunk = Request::ImageChunk { id: 4, offset: 0, data: &image };
        assert_eq!(dev.handle(3, &chunk, &clock), Response::Ack);
        let Response::Result(r) = dev.handle(4, &Request::Infer { id: 4, crc: crc32(&image) }, &clock) else {
            panic!("no result")
        };
        let Response::LayerCycles(p) = dev.handle(5, &Request::LayerCycles, &clock) else { panic!("no profile") };
        assert_eq!((p.id, p.layers.len()), (4, model.spec().layers.len()));
        assert!(p.layers.iter().all(|c| *c > 0));
        assert_eq!(p.prepare + p.layers.iter().sum::<u64>(), r.cycles);
    }

    #[test]
    fn answers_do_not_depend_on_the_workers_or_their_order() {
        let file = model_file();
        let model = Model::parse(&file).unwrap();
        let shape = Shape::new(1, 28, 28);
        let image: std::vec::Vec<u8> = (0..shape.len()).map(|i| (i * 29 % 256) as u8).collect();
        let mut answers = std::vec::Vec::new();
        for (threads, in_turn) in [(1, false), (3, false), (4, true)] {
            let workers = crate::parallel::Threads(threads);
            let (mut buffer, mut image_buf) = (std::vec![0u8; 1 << 20], std::vec![0u8; 4096]);
            let mut dev =
                Device::new(Ok(&model), &mut buffer, &mut image_buf, Board::Rpi3, [0, 1, 0]).with_workers(&workers);
            assert_eq!(dev.info().cores as usize, threads);
            assert_eq!(dev.handle(1, &Request::PartsInTurn { on: in_turn }, &|| 0), Response::Ack);
            let mut seq = 1;
            let Response::Result(r) = send_image(&mut dev, &mut seq, 9, &image, shape) else { panic!("no result") };
            answers.push(r.top5);
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    }

    #[test]
    fn repeated_sequence_number_replays_the_reply() {
        let file = model_file();
        let model = Model::parse(&file).unwrap();
        let (mut buffer, mut image_buf) = (std::vec![0u8; 1 << 20], std::vec![0u8; 4096]);
        let mut dev = Device::new(Ok(&model), &mut buffer, &mut image_buf, Board::Rpi3, [0, 1, 0]);
        let clock = || 0u64;
        let shape = model.spec().input;
        assert_eq!(dev.handle(1, &Request::BeginImage { id: 1, shape }, &clock), Response::Ack);
        // A new image under a new sequence number, then the old number again:
        // the replay must not reset the image being received.
        assert_eq!(dev.handle(2, &Request::BeginImage { id: 2, shape }, &clock), Response::Ack);
        assert_eq!(dev.handle(2, &Request::BeginImage { id: 2, shape }, &clock), Response::Ack);
        let chunk = Request::ImageChunk { id: 1, offset: 0, data: &[1, 2, 3] };
        assert_eq!(dev.handle(3, &chunk, &clock), Response::Error(ErrorCode::UnknownImage));
    }

    #[test]
    fn errors_are_replies_not_panics() {
        let file = model_file();
        let model = Model::parse(&file).unwrap();
        let (mut buffer, mut image_buf) = (std::vec![0u8; 1 << 20], std::vec![0u8; 64]);
        let mut dev = Device::new(Ok(&model), &mut buffer, &mut image_buf, Board::Rpi3, [0, 1, 0]);
        let clock = || 0u64;
        let big = Request::BeginImage { id: 1, shape: Shape::new(1, 32, 32) };
        assert!(matches!(dev.handle(1, &big, &clock), Response::Error(ErrorCode::ImageTooLarge { .. })));
        let rgb = Request::BeginImage { id: 1, shape: Shape::new(3, 4, 4) };
        assert!(matches!(dev.handle(2, &rgb, &clock), Response::Error(ErrorCode::ImageChannels { .. })));
        let ok = Request::BeginImage { id: 1, shape: Shape::new(1, 8, 8) };
        assert_eq!(dev.handle(3, &ok, &clock), Response::Ack);
        let outside = Request::ImageChunk { id: 1, offset: 60, data: &[0; 10] };
        assert_eq!(dev.handle(4, &outside, &clock), Response::Error(ErrorCode::ChunkOutOfBounds));
        assert_eq!(
            dev.handle(5, &Request::Infer { id: 1, crc: 0 }, &clock),
            Response::Error(ErrorCode::ImageIncomplete)
        );
        let fill = Request::ImageChunk { id: 1, offset: 0, data: &[9; 64] };
        assert_eq!(dev.handle(6, &fill, &clock), Response::Ack);
        assert_eq!(
            dev.handle(7, &Request::Infer { id: 1, crc: 0 }, &clock),
            Response::Error(ErrorCode::ImageCrcMismatch)
        );
    }

    #[test]
    fn refused_model_and_small_arena_are_reported() {
        let (mut buffer, mut image_buf) = (std::vec![0u8; 16], std::vec![0u8; 64]);
        let bad = Err(ErrorCode::Model(ModelError::UnsupportedVersion { found: 9 }));
        let mut dev = Device::new(bad, &mut buffer, &mut image_buf, Board::Rpi4, [0, 1, 0]);
        let Response::Info(info) = dev.handle(1, &Request::Hello, &|| 0) else { panic!() };
        assert_eq!(info.model, bad.map(|_: &Model| unreachable!()));
        let req = Request::BeginImage { id: 1, shape: Shape::new(1, 4, 4) };
        assert_eq!(
            dev.handle(2, &req, &|| 0),
            Response::Error(ErrorCode::Model(ModelError::UnsupportedVersion { found: 9 }))
        );

        let file = model_file();
        let model = Model::parse(&file).unwrap();
        let mut small = std::vec![0u8; 1000];
        let mut image_buf = std::vec![0u8; 64];
        let dev = Device::new(Ok(&model), &mut small, &mut image_buf, Board::Rpi3, [0, 1, 0]);
        assert!(matches!(dev.info().model, Err(ErrorCode::ArenaTooSmall { .. })));
    }
}
