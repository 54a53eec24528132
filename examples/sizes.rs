//! Prints `size_of` every public state type, for the README and the size report.
//!
//! ```text
//! cargo run --example sizes
//! ```

use backoff_core::{Action, Body, BodyParser, Error, Policy, RateLimits, Reply, Request, RetryBudget};
use core::mem::size_of;

fn main() {
    println!("target pointer width: {} bits", usize::BITS);
    println!("{:<28} {:>5} bytes", "Policy", size_of::<Policy>());
    println!("{:<28} {:>5} bytes", "Request (per request)", size_of::<Request>());
    println!("{:<28} {:>5} bytes", "BodyParser<128>", size_of::<BodyParser<128>>());
    println!("{:<28} {:>5} bytes", "Reply<128> (while reading)", size_of::<Reply<128>>());
    println!("{:<28} {:>5} bytes", "Body<128>", size_of::<Body<128>>());
    println!("{:<28} {:>5} bytes", "Error<128>", size_of::<Error<128>>());
    println!("{:<28} {:>5} bytes", "Action<128>", size_of::<Action<128>>());
    println!("{:<28} {:>5} bytes", "RateLimits<4> (shared)", size_of::<RateLimits<4>>());
    println!("{:<28} {:>5} bytes", "RetryBudget (shared)", size_of::<RetryBudget>());
}
