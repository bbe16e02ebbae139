//! Inputs that crashed a fuzz target in shared/fuzz or host/fuzz
//! (scripts/fuzz.sh), each now a typed error. These were written by hand
//! after reading `ModelSpec::validate` and confirmed on the targets; the
//! files are also in the targets' seeds, so every fuzz run tries them again.

mod common;

use shared::device::Device;
use shared::format::{write_file, AlignedBytes, FormatError};
use shared::link::{Board, ErrorCode, Request, Response};
use shared::spec::{output_shape, AlexNetConfig, ConvSpec, DenseSpec, Layer, ModelSpec, Normalize, Shape, SpecError};
use shared::Model;

fn conv(out_channels: u32, kernel: u32, padding: u32) -> Layer {
    Layer::Conv(ConvSpec { out_channels, kernel, stride: 1, padding, groups: 1, relu: true })
}

fn spec(input: Shape, layers: &[Layer]) -> ModelSpec {
    let mut all: heapless::Vec<Layer, { shared::spec::MAX_LAYERS }> = layers.iter().copied().collect();
    all.push(Layer::Dense(DenseSpec { out_features: 4, relu: false, dropout: false })).unwrap();
    ModelSpec { input, normalize: Normalize::IMAGENET, resize: 0, layers: all }
}

/// shared/fuzz/seeds/parse_model/regression-huge-input.model: a model whose
/// input is 4 x (2^32-1) x (2^32-1) (checksum valid). Validating its first
/// convolution overflowed the padded height (a panic with overflow checks,
/// a wrapped size without); the input's element count does not fit a u64.
#[test]
fn model_with_an_input_too_large_to_count_is_refused() {
    let file = AlignedBytes::new(include_bytes!("../fuzz/seeds/parse_model/regression-huge-input.model"));
    assert_eq!(Model::parse(&file).unwrap_err(), FormatError::BadSpec(SpecError::BadInput));

    // The same spec in a model file of this build's format.
    let good = common::quantized(&common::tiny_spec(), 1, 1).1;
    let mut meta = Model::parse(&good).unwrap().meta().clone();
    meta.spec.input = Shape::new(4, u32::MAX, u32::MAX);
    let file = AlignedBytes::new(&write_file(&meta, Model::parse(&good).unwrap().tensor_data()).unwrap());
    assert_eq!(Model::parse(&file).unwrap_err(), FormatError::BadSpec(SpecError::BadInput));
}

/// The specs behind both crashes (and the checkpoint's in host/fuzz: that
/// input before a dense layer, whose patch length is the input's element
/// count), and the other sizes `validate` computes from a spec's numbers.
#[test]
fn specs_whose_sizes_overflow_are_errors() {
    let huge = Shape::new(4, u32::MAX, u32::MAX);
    assert_eq!(spec(huge, &[]).validate(), Err(SpecError::BadInput));
    assert_eq!(spec(huge, &[conv(4, 3, 1)]).validate(), Err(SpecError::BadInput));
    // 2^64 values wrap to 0 without overflow checks: not a tiny input.
    assert_eq!(spec(Shape::new(4, 1 << 31, 1 << 31), &[]).validate(), Err(SpecError::BadInput));
    // Just too large to address with u32 byte offsets of i32 values.
    assert_eq!(spec(Shape::new(1, 1 << 15, 1 << 15), &[]).validate(), Err(SpecError::BadInput));
    // One value less is an input; the dense layer after it is too wide.
    let input_ok = spec(Shape::new(1, 1 << 15, (1 << 15) - 1), &[]).validate();
    assert_eq!(input_ok, Err(SpecError::BadParameter { layer: 0 }));

    let wide = Shape::new(1, 8, 8);
    // Padding whose double overflows u32, and a kernel whose patch overflows usize.
    let layer = conv(4, u32::MAX, u32::MAX - 1);
    assert_eq!(output_shape(0, &layer, wide), Err(SpecError::BadParameter { layer: 0 }));
    assert_eq!(spec(wide, &[layer]).validate(), Err(SpecError::BadParameter { layer: 0 }));
    assert_eq!(
        spec(Shape::new(2, 8, 8), &[conv(4, u32::MAX, 0)]).validate(),
        Err(SpecError::BadParameter { layer: 0 })
    );
}

/// shared/fuzz/seeds/device_link/regression-begin-huge: a framed request
/// `(seq 1, BeginImage { id: 1, shape: 3 x (2^32-1) x (2^32-1) })` to a
/// device serving an RGB model. Its length overflowed usize in the capacity
/// check (a panic with overflow checks; on the board, a wrapped length could
/// pass it and the resize index far outside the image).
#[test]
fn image_too_large_to_count_is_refused_by_the_device() {
    const PAYLOAD: [u8; 14] = [1, 1, 1, 3, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xff, 0xff, 0xff, 0xff, 0x0f];
    let (seq, request): (u16, Request) = postcard::from_bytes(&PAYLOAD).unwrap();
    let shape = Shape::new(3, u32::MAX, u32::MAX);
    assert_eq!((seq, &request), (1, &Request::BeginImage { id: 1, shape }));

    let spec = AlexNetConfig::small(Shape::new(3, 32, 32), 10).with_width(0.125).build().unwrap();
    let file = common::quantized(&spec, 1, 1).1;
    let model = Model::parse(&file).unwrap();
    let (mut buffer, mut image) = (vec![0u8; 1 << 20], vec![0u8; 4096]);
    let mut device = Device::new(Ok(&model), &mut buffer, &mut image, Board::Rpi3, [0, 1, 0]);
    let reply = device.handle(seq, &request, &|| 0);
    assert_eq!(reply, Response::Error(ErrorCode::ImageTooLarge { len: u32::MAX, capacity: 4096 }));
}
