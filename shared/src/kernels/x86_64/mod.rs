//! AVX2 versions of the int8 inner loops for x86-64 hosts, chosen at run
//! time (the `std` feature detects the CPU; without it, or without AVX2, the
//! portable kernels run).
//!
//! Exact int8 products need widening: `vpmaddubsw` would multiply int8 pairs
//! straight away but saturates their int16 sums, so each operand is widened
//! to int16 (`vpmovsxbw`) and `vpmaddwd` adds product pairs into int32.
#![allow(unsafe_code)]

pub mod tile;
