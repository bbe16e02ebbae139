//! AVX-512 and AVX2 versions of the int8 inner loops for x86-64 hosts,
//! chosen at run time (the `std` feature detects the CPU; without it, or on
//! a CPU without them, the portable kernels run).
//!
//! Exact int8 products: `vpmaddubsw` would multiply int8 pairs straight away
//! but saturates their int16 sums, so AVX2 widens each operand to int16
//! (`vpmovsxbw`) and `vpmaddwd` adds product pairs into int32; AVX-512 VNNI's
//! `vpdpbusd` sums four unsigned-by-signed byte products into int32 without
//! saturating.
#![allow(unsafe_code)]

pub mod lrn;
pub mod tile;
