//! The storage conformance suite against the in-memory backend.

use jaeger_storage::Storage;
use jaeger_storage::conformance::Guard;
use jaeger_storage::memory::MemoryStore;

async fn open() -> (Storage, Guard) {
    (
        Storage::from_backend(MemoryStore::new(100_000)),
        Box::new(()),
    )
}

jaeger_storage::conformance_tests!(open);
