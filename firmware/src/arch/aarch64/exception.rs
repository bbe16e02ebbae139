//! Exception vectors (from aarch64-rt): every exception is fatal and panics with its syndrome.

use aarch64_cpu::registers::{ESR_EL1, FAR_EL1, Readable};
use aarch64_rt::{ExceptionHandlers, RegisterStateRef, exception_handlers};

/// Our handlers; the ones not overridden panic with aarch64-rt's default message.
struct Handlers;

impl ExceptionHandlers for Handlers {
    extern "C" fn sync_current(register_state: RegisterStateRef) {
        panic!(
            "synchronous exception at EL1: ESR_EL1={:#x} FAR_EL1={:#x} ELR={:#x}",
            ESR_EL1.get(),
            FAR_EL1.get(),
            register_state.elr
        );
    }

    extern "C" fn serror_current(register_state: RegisterStateRef) {
        panic!("SError at EL1: ESR_EL1={:#x} ELR={:#x}", ESR_EL1.get(), register_state.elr);
    }
}

exception_handlers!(Handlers);
