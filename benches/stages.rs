//! Criterion benchmarks of the pure stages, and of the limiter's
//! bookkeeping: what each row costs besides waiting for the API. Numbers go
//! to BENCHMARKS.md.
//!
//!     cargo bench --bench stages

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use tenure::api;
use tenure::crypto::Cipher;
use tenure::limiter::Limiter;
use tenure::number;
use tenure::secret::Secret;
use tenure::stop::Stop;

fn normalise(c: &mut Criterion) {
    let mut group = c.benchmark_group("normalise");
    for (name, cell) in [
        ("clean", "13800138000"),
        ("plus86_dashes", "+86 138-0013-8000"),
        ("fullwidth", "１３８００１３８０００"),
        ("excel", "1.38001E+10"),
    ] {
        group.bench_function(name, |b| b.iter(|| number::parse(black_box(cell))));
    }
    group.finish();
}

fn encrypt(c: &mut Criterion) {
    let cipher = Cipher::new(&Secret::new("JHtestopenid0000".to_owned()));
    c.bench_function("encrypt", |b| {
        b.iter(|| cipher.encrypt(black_box("13800138000")))
    });
}

fn classify(c: &mut Criterion) {
    let success = r#"{"reason":"成功","result":{"idnum":"","name":"","mobile":"13800138000","res":1,"code":"3","desc":"(24,+)","province":"江苏","city":"苏州","isp":"移动"},"error_code":0}"#;
    let error = r#"{"reason":"网络异常,请重试","result":null,"error_code":224805}"#;
    let mut group = c.benchmark_group("classify");
    group.bench_function("success", |b| {
        b.iter(|| api::classify_response(200, black_box(success.as_bytes())))
    });
    group.bench_function("retry", |b| {
        b.iter(|| api::classify_response(200, black_box(error.as_bytes())))
    });
    group.bench_function("garbage", |b| {
        b.iter(|| api::classify_response(200, black_box(b"<html>502</html>")))
    });
    group.finish();
}

/// The CPU one permit costs the limiter (its checks and its log), measured
/// where no rule makes it wait: a rate no thread can reach, and a fresh
/// limiter every `BATCH` permits so that the window log stays the size it
/// has at a realistic quota. What waiting costs (one sleep per permit at
/// most) is the operating system's, and the same whatever the bookkeeping.
fn limiter(c: &mut Criterion) {
    const BATCH: u64 = 20_000;
    let qps = NonZeroU32::new(u32::MAX).expect("u32::MAX is not zero");
    let stop = Stop::new();
    c.bench_function("limiter/acquire", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let limiter = Limiter::new(qps);
                let batch = left.min(BATCH);
                let started = Instant::now();
                for _ in 0..batch {
                    black_box(limiter.acquire(&stop));
                }
                spent += started.elapsed();
                left -= batch;
            }
            spent
        })
    });
}

criterion_group!(benches, normalise, encrypt, classify, limiter);
criterion_main!(benches);
