//! The device side of the link as a plain state machine: it takes decoded
//! requests and returns responses, with no I/O and no board knowledge. The
//! firmware wraps it in a UART loop; host tests drive it directly.

use crate::card::{CardError, CardImages};
use crate::format::{crc32, Model, FORMAT_VERSION};
use crate::image::resize_bilinear;
use crate::infer::Engine;
use crate::link::{
    decode_frame, Board, CardInfo, DeviceInfo, ErrorCode, Frame, InferResult, LayerCycles, ModelInfo, Request,
    Response, MAX_BATCH, PROTOCOL_VERSION,
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
            max_batch: self.max_batch() as u8,
        }
    }

    /// Images one `InferCardBatch` can run: as many working buffers as the
    /// device's memory holds, up to [`MAX_BATCH`].
    fn max_batch(&self) -> usize {
        match &self.engine {
            Ok(engine) => (self.buffer.len() / batch_stride(engine)).min(MAX_BATCH),
            Err(_) => 0,
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
                let (shape, image) = card_image(&card, engine, index)?;
                let (result, profile) = infer(engine, self.buffer, self.workers, index, image, shape, cycles)?;
                self.profile = Some(profile);
                Ok(Response::Result(result))
            }
            Request::InferCardBatch { ref indices } => {
                let max = self.max_batch();
                let engine = self.engine.as_ref().map_err(|e| *e)?;
                let card = self
                    .card
                    .map_err(|_| ErrorCode::NoCardImage { index: indices.first().copied().unwrap_or(0), count: 0 })?;
                if indices.is_empty() || indices.len() > max {
                    return Err(ErrorCode::BatchSize { count: indices.len() as u32, max: max as u32 });
                }
                let mut images: heapless::Vec<(u32, Shape, &[u8]), MAX_BATCH> = heapless::Vec::new();
                for &index in indices {
                    let (shape, image) = card_image(&card, engine, index)?;
                    // `indices` holds at most MAX_BATCH: the push fits.
                    let _ = images.push((index, shape, image));
                }
                let (results, profile) = infer_batch(engine, self.buffer, self.workers, &images, cycles)?;
                self.profile = Some(profile);
                Ok(Response::Results(results))
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

/// Times one run stage by stage with the board's cycle counter, counts its
/// instructions where the board can, and marks each stage's segment for the
/// instruction-mix plugin (`crate::marks`).
struct StageClock<'c, C: Fn() -> u64> {
    cycles: &'c C,
    workers: &'c dyn Workers,
    layers: usize,
    start: u64,
    last: u64,
    profile: LayerCycles,
}

impl<'c, C: Fn() -> u64> StageClock<'c, C> {
    /// Starts the clock on the preparation of `images` images, the first `id`.
    fn start(cycles: &'c C, workers: &'c dyn Workers, engine: &Engine, id: u32, images: usize) -> Self {
        workers.mark_segment(marks::PREPARE);
        let start = cycles();
        let profile = LayerCycles {
            id,
            images: images as u16,
            prepare: 0,
            layers: heapless::Vec::new(),
            critical: heapless::Vec::new(),
            instructions: heapless::Vec::new(),
        };
        StageClock { cycles, workers, layers: engine.model().spec().layers.len(), start, last: start, profile }
    }

    /// The images are in place: the layers start.
    fn prepared(&mut self) {
        self.last = (self.cycles)();
        self.profile.prepare = self.last.wrapping_sub(self.start);
        let _ = self.workers.take_instructions(); // counts start at the first layer
        self.workers.mark_segment(marks::layer(0));
    }

    /// Layer `index` has run.
    fn layer_done(&mut self, index: usize) {
        let now = (self.cycles)();
        let saturated = |n: u64| n.min(u32::MAX as u64) as u32;
        // The spec has at most MAX_LAYERS layers, so no push fails.
        let _ = self.profile.layers.push(now.wrapping_sub(self.last));
        if let Some(n) = self.workers.take_instructions() {
            let _ = self.profile.critical.push(saturated(n.critical));
            let _ = self.profile.instructions.push(saturated(n.total));
        }
        self.last = now;
        self.workers.mark_segment(if index + 1 == self.layers { marks::OUTSIDE } else { marks::layer(index + 1) });
    }

    /// The run's ticks in all, and their breakdown.
    fn finish(self) -> (u64, LayerCycles) {
        (self.last.wrapping_sub(self.start), self.profile)
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
    let mut clock = StageClock::start(cycles, workers, engine, id, 1);
    let region = engine.input_region(buffer).map_err(|_| ErrorCode::BadRequest)?;
    resize_bilinear(image, shape, region, engine.model().spec().input);
    clock.prepared();
    let top5 =
        engine.run_in_place_on(buffer, workers, |index| clock.layer_done(index)).map_err(|_| ErrorCode::BadRequest)?;
    let (ticks, profile) = clock.finish();
    Ok((InferResult { id, top5, cycles: ticks }, profile))
}

/// Bytes of the device's buffer one image of a batch takes: the engine's
/// working memory, rounded up so every image's buffer starts 16-byte aligned
/// as the whole buffer does.
fn batch_stride(engine: &Engine) -> usize {
    engine.buffer_len().next_multiple_of(16).max(16)
}

/// Card image `index` (its shape and bytes), refused unless it has the
/// model's input channels.
fn card_image<'m>(card: &CardImages<'m>, engine: &Engine, index: u32) -> Result<(Shape, &'m [u8]), ErrorCode> {
    let (shape, image) = card.get(index).ok_or(ErrorCode::NoCardImage { index, count: card.len() })?;
    let expected = engine.model().spec().input.c;
    if shape.c != expected {
        return Err(ErrorCode::ImageChannels { expected, found: shape.c });
    }
    Ok((shape, image))
}

/// Runs `engine` on `images` (card index, shape, bytes) together
/// ([`Engine::run_batch_in_place_on`]), each in its own part of `buffer`,
/// timed with `cycles` stage by stage over the whole batch. The caller has
/// checked that `images` is not empty and that `buffer` holds them all.
fn infer_batch(
    engine: &Engine,
    buffer: &mut [u8],
    workers: &dyn Workers,
    images: &[(u32, Shape, &[u8])],
    cycles: &impl Fn() -> u64,
) -> Result<(heapless::Vec<InferResult, MAX_BATCH>, LayerCycles), ErrorCode> {
    let mut bufs: heapless::Vec<&mut [u8], MAX_BATCH> = buffer
        .chunks_exact_mut(batch_stride(engine))
        .take(images.len())
        .map(|b| &mut b[..engine.buffer_len()])
        .collect();
    // Also what keeps this function from indexing an empty batch.
    if bufs.len() != images.len() || images.is_empty() {
        return Err(ErrorCode::BatchSize { count: images.len() as u32, max: bufs.len() as u32 });
    }
    let mut clock = StageClock::start(cycles, workers, engine, images[0].0, images.len());
    for (buf, &(_, shape, image)) in bufs.iter_mut().zip(images) {
        let region = engine.input_region(buf).map_err(|_| ErrorCode::BadRequest)?;
        resize_bilinear(image, shape, region, engine.model().spec().input);
    }
    clock.prepared();
    engine
        .run_batch_in_place_on(&mut bufs, workers, |index| clock.layer_done(index))
        .map_err(|_| ErrorCode::BadRequest)?;
    let (ticks, profile) = clock.finish();
    let each = ticks / images.len() as u64;
    let results = bufs
        .iter()
        .zip(images)
        .map(|(buf, &(id, _, _))| InferResult { id, top5: engine.top5(buf), cycles: each })
        .collect();
    Ok((results, profile))
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
    fn a_card_batch_answers_as_its_images_one_by_one() {
        let file = model_file();
        let model = Model::parse(&file).unwrap();
        let shapes: std::vec::Vec<Shape> =
            (0..6).map(|k| if k % 2 == 0 { Shape::new(1, 28, 28) } else { model.spec().input }).collect();
        let images: std::vec::Vec<std::vec::Vec<u8>> =
            shapes.iter().enumerate().map(|(k, s)| (0..s.len()).map(|i| (i * 7 + k * 13) as u8).collect()).collect();
        let set = crate::card::write(shapes.iter().zip(&images).map(|(s, b)| (*s, b.as_slice()))).unwrap();
        let card = CardImages::parse(&set);
        let workers = crate::parallel::Threads(3);
        let (mut buffer, mut image_buf) = (std::vec![0u8; 1 << 20], std::vec![0u8; 4096]);
        let mut dev = Device::new(Ok(&model), &mut buffer, &mut image_buf, Board::Rpi3, [0, 1, 0])
            .with_card(card)
            .with_workers(&workers);
        let max = dev.info().max_batch as usize;
        let engine = Engine::new(&model).unwrap();
        assert_eq!(max, ((1 << 20) / engine.buffer_len().next_multiple_of(16)).min(MAX_BATCH));
        assert!(max >= 5, "the test's buffer holds {max} images");
        let one_by_one: std::vec::Vec<InferResult> = (0..6u32)
            .map(|index| match dev.handle(index as u16 + 1, &Request::InferCard { index }, &|| 0) {
                Response::Result(r) => r,
                other => panic!("card image {index}: {other:?}"),
            })
            .collect();
        // A clock that ticks 10 per read: the batch's ticks are shared out.
        let ticks = core::cell::Cell::new(0u64);
        let clock = || {
            ticks.set(ticks.get() + 10);
            ticks.get()
        };
        let mut seq = 10;
        for batch in [&[0u32, 1, 2, 3, 4][..], &[5, 1], &[2]] {
            seq += 1;
            let request = Request::InferCardBatch { indices: batch.iter().copied().collect() };
            let Response::Results(results) = dev.handle(seq, &request, &clock) else {
                panic!("no results for {batch:?}")
            };
            assert_eq!(results.len(), batch.len());
            for (r, &index) in results.iter().zip(batch) {
                assert_eq!((r.id, &r.top5), (index, &one_by_one[index as usize].top5), "batch {batch:?}");
            }
            seq += 1;
            let Response::LayerCycles(p) = dev.handle(seq, &Request::LayerCycles, &clock) else { panic!("no profile") };
            assert_eq!((p.id, p.images as usize, p.layers.len()), (batch[0], batch.len(), model.spec().layers.len()));
            let ticks = p.prepare + p.layers.iter().sum::<u64>();
            assert!(results.iter().all(|r| r.cycles == ticks / batch.len() as u64), "{results:?} {ticks}");
        }
        if max < MAX_BATCH {
            let too_many = Request::InferCardBatch { indices: (0..max as u32 + 1).map(|i| i % 6).collect() };
            let want = ErrorCode::BatchSize { count: max as u32 + 1, max: max as u32 };
            assert_eq!(dev.handle(90, &too_many, &|| 0), Response::Error(want));
        }
        let empty = Request::InferCardBatch { indices: heapless::Vec::new() };
        assert_eq!(dev.handle(91, &empty, &|| 0), Response::Error(ErrorCode::BatchSize { count: 0, max: max as u32 }));
        let past = Request::InferCardBatch { indices: [1, 6].into_iter().collect() };
        assert_eq!(dev.handle(92, &past, &|| 0), Response::Error(ErrorCode::NoCardImage { index: 6, count: 6 }));
    }

    #[test]
    fn a_batch_is_limited_by_the_device_memory() {
        let file = model_file();
        let model = Model::parse(&file).unwrap();
        let len = Engine::new(&model).unwrap().buffer_len().next_multiple_of(16);
        let image = std::vec![1u8; model.spec().input.len()];
        let set = crate::card::write([(model.spec().input, image.as_slice())].into_iter()).unwrap();
        let (mut buffer, mut image_buf) = (std::vec![0u8; 2 * len + 15], std::vec![0u8; 64]);
        let mut dev = Device::new(Ok(&model), &mut buffer, &mut image_buf, Board::Rpi4, [0, 1, 0])
            .with_card(CardImages::parse(&set));
        assert_eq!(dev.info().max_batch, 2);
        let three = Request::InferCardBatch { indices: [0, 0, 0].into_iter().collect() };
        assert_eq!(dev.handle(1, &three, &|| 0), Response::Error(ErrorCode::BatchSize { count: 3, max: 2 }));
        let two = Request::InferCardBatch { indices: [0, 0].into_iter().collect() };
        let Response::Results(r) = dev.handle(2, &two, &|| 0) else { panic!("no results") };
        assert_eq!(r[0].top5, r[1].top5);
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
