// mimalloc: the API path allocates many small values (JSON trees, headers); glibc's malloc
// costs a measurable share of a session check (scripts/bench/accounts.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gatehouse::cli::run()
}
