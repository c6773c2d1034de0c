//! The shared storage conformance suite against the embedded store.

use jaeger_storage::Storage;
use jaeger_storage::conformance::Guard;
use jaeger_storage::embedded::{EmbeddedStore, EmbeddedStoreConfig};

async fn open() -> (Storage, Guard) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(EmbeddedStoreConfig::new(dir.path())).expect("store opens");
    (Storage::from_backend(store), Box::new(dir))
}

jaeger_storage::conformance_tests!(open);
