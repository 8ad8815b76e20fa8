//! keywheel-vision integration tests, one binary. `common` is keywheel-testkit's images made
//! in code (encoders, photo- and screenshot-like pictures, hand-built files, a data URL
//! decoder), under the name the modules use.
mod common {
    pub use keywheel_testkit::images::*;
}
mod corpus;
mod errors;
mod fuzz;
mod ocr;
mod prepare;
