//! Cost of `Phone::parse`, which normalises through libphonenumber's metadata: for one country's numbers, and for
//! the example numbers of every region it knows, parsed in turn (what a user base spread over the world sends).
//! Each runs with our cache capacity and again with the `phonenumber` crate's own (100), to show what ours buys.
//! Run with `cargo bench -p latchkey-domain --bench identifiers`; the medians are kept in docs/benchmarks.md.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use latchkey_domain::identifiers::{PHONE_PATTERN_CACHE_CAPACITY, Phone};
use phonenumber::metadata::DATABASE;

/// The mobile and fixed-line example numbers of every region, as international digits, in a stable order.
fn every_regions_examples() -> Vec<String> {
    let mut regions: Vec<_> = DATABASE.iter().collect();
    regions.sort_by(|left, right| left.id().cmp(right.id()));
    regions
        .into_iter()
        .flat_map(|region| {
            let descriptors = region.descriptors();
            [descriptors.mobile(), descriptors.fixed_line()]
                .into_iter()
                .flatten()
                .filter_map(|descriptor| descriptor.example())
                .map(move |example| format!("{}{example}", region.country_code()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// This process's resident memory, from /proc (Linux); `None` elsewhere.
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn phone_parse(c: &mut Criterion) {
    let worldwide = every_regions_examples();
    assert!(worldwide.len() > 400, "only {} example numbers", worldwide.len());
    let before = resident_kib();
    let known = worldwide.iter().filter(|digits| Phone::parse(digits).is_ok()).count();
    assert_eq!(known, worldwide.len(), "every example number is digits only and parses");
    let cache = DATABASE.cache();
    let (cached, capacity) = {
        let cache = cache.lock().expect("the pattern cache lock");
        (cache.len(), cache.capacity())
    };
    let grown = before.zip(resident_kib()).map(|(before, after)| after.saturating_sub(before));
    println!(
        "{} example numbers from {} regions: {cached} patterns compiled (cache capacity {capacity}), resident memory \
         +{} KiB",
        worldwide.len(),
        DATABASE.iter().count(),
        grown.map_or_else(|| "?".to_owned(), |kib| kib.to_string()),
    );
    let one_country: Vec<String> = (0..worldwide.len()).map(|index| format!("4479{:08}", index * 7919)).collect();

    // Ours first, then the `phonenumber` crate's own capacity, shrunk in place (Phone::parse resizes only once).
    let mut group = c.benchmark_group("Phone::parse");
    for (cache_name, cache_capacity) in
        [("cache 4096 (ours)", PHONE_PATTERN_CACHE_CAPACITY), ("cache 100 (crate)", 100)]
    {
        cache.lock().expect("the pattern cache lock").set_capacity(cache_capacity);
        for (name, numbers) in [("one country (GB mobiles)", &one_country), ("every region's examples", &worldwide)] {
            group.throughput(Throughput::Elements(numbers.len() as u64));
            group.bench_function(format!("{name}, {cache_name}"), |b| {
                b.iter(|| {
                    for digits in numbers {
                        black_box(Phone::parse(black_box(digits)).ok());
                    }
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, phone_parse);
criterion_main!(benches);
