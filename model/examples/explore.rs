//! A fixed amount of checker work, for profilers (`valgrind --tool=callgrind`): explores the
//! hardened `churn+adversary` model on the unordered network on one thread and prints the
//! state counts.
//!
//! `cargo run --release -p kgroup-model --example explore`

use kgroup::Dialect;
use kgroup_model::findings::churn_adversary;
use kgroup_model::Network;
use stateright::{Checker, Model};

/// The allocator of `kgroup check` and of the checker benchmark.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let c = churn_adversary(Dialect::Hardened, Network::Unordered)
        .checker()
        .threads(
            std::env::args()
                .nth(1)
                .map_or(1, |t| t.parse().expect("threads")),
        )
        .spawn_bfs()
        .join();
    println!(
        "states {} unique {} depth {}",
        c.state_count(),
        c.unique_state_count(),
        c.max_depth()
    );
}
