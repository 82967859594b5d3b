//! Links the Node-API symbols when the `node` feature builds the addon; nothing otherwise.
fn main() {
    #[cfg(feature = "node")]
    napi_build::setup();
}
