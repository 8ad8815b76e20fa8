//! keywheel-vision integration tests, one binary. `common` holds the images made in code.
#[allow(dead_code)]
mod common;
mod corpus;
mod errors;
mod fuzz;
mod ocr;
mod prepare;
