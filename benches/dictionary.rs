//! Train the dictionary the store packs plans, bodies and pages with
//! (store::packed), and say how well it packs events it was not trained on.
//!
//! `cargo bench --bench dictionary` only measures the dictionary in use;
//! `cargo bench --bench dictionary -- --write src/store/dictionary/N.zdict`
//! trains a new one there (never overwrite a dictionary that has shipped:
//! stored frames name theirs, and packed.rs must keep reading every one).
//!
//! The samples are every source's example (examples/), planned by the
//! shipped pack as intake plans them, with what differs from one real event
//! to the next made up afresh for each: addresses, names, ids, times, free
//! text, a Typeform lead's contact type and lead source. So the dictionary
//! learns what events share (JSON keys, the payload format, the rules'
//! texts, Notion property shapes), not one event's values; it is measured on
//! events made from another seed.

#[path = "../tests/support/shipped.rs"]
mod shipped;

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use shipped::{CONTACT_TYPES as TYPES, LEAD_SOURCES as SOURCES};

const VARIANTS: usize = 120;
const DICTIONARY_BYTES: usize = 64 * 1024;
/// The store's zstd level (store::packed).
const LEVEL: i32 = 3;

const NAMES: &[&str] = &[
    "Grace Hopper",
    "Alan Turing",
    "Mary Jackson",
    "Katherine Johnson",
    "Linus Pauling",
    "Rosalind Franklin",
    "Niels Bohr",
    "Frida Kahlo",
    "Yayoi Kusama",
    "Hilma af Klint",
    "Jean-Michel Basquiat",
    "Agnes Martin",
    "Ravi Shankar",
    "Maya Angelou",
    "Lin Wei",
];
const DOMAINS: &[&str] = &[
    "gmail.com",
    "studio.art",
    "outlook.com",
    "company.co",
    "mail.net",
];
const WORDS: &[&str] = &[
    "painting",
    "retreat",
    "workshop",
    "wellness",
    "gallery",
    "consulting",
    "community",
    "meditation",
    "exhibition",
    "growth",
    "strategy",
    "sound",
    "healing",
    "print",
    "series",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `v` with what differs between real events made up afresh; keys, shape
/// and the values rules route on are kept.
fn vary(v: &mut Value, key: &str, rng: &mut StdRng) {
    match v {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                vary(v, k, rng);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|v| vary(v, key, rng)),
        Value::String(s) => {
            let k = key.to_ascii_lowercase();
            let name = NAMES.choose(rng).copied().unwrap_or("Ada Lovelace");
            if s.contains('@') {
                let first = name.split(' ').next().unwrap_or("ada").to_lowercase();
                let domain = DOMAINS.choose(rng).copied().unwrap_or("example.org");
                *s = format!("{first}{}@{domain}", rng.random_range(1..9999));
            } else if DateTime::parse_from_rfc3339(s).is_ok() {
                *s = some_time(rng).to_rfc3339();
            } else if k == "id" || k.ends_with("_id") || k.ends_with("token") || k == "key" {
                *s = format!("{:x}", rng.random::<u64>());
            } else if k.contains("name") || k == "title" && s.split(' ').count() == 2 {
                *s = match k.as_str() {
                    "first_name" | "firstname" => name.split(' ').next().unwrap_or(name).into(),
                    "last_name" | "lastname" => name.rsplit(' ').next().unwrap_or(name).into(),
                    _ => name.into(),
                };
            } else if k == "text" || k == "content" || k == "message" || k == "description" {
                let n = rng.random_range(3..12);
                *s = (0..n)
                    .map(|_| WORDS.choose(rng).copied().unwrap_or("art"))
                    .collect::<Vec<_>>()
                    .join(" ");
            }
        }
        Value::Number(n) if n.is_f64() => *v = Value::from(rng.random_range(5.0..500.0_f64)),
        _ => {}
    }
}

fn some_time(rng: &mut StdRng) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(rng.random_range(1_735_689_600_000..1_830_297_600_000))
        .single()
        .unwrap_or_else(Utc::now)
}

/// What an event packs (its plan, body, trace, headers and fields, unpacked), for
/// every example, `VARIANTS` times, made from `seed`.
fn samples(seed: u64) -> Vec<[Vec<u8>; 5]> {
    let rs = hsflow::rules::load_to_serve(&root().join("rules"), &root().join("templates"))
        .ruleset
        .unwrap_or_else(|| panic!("the shipped pack doesn't load"));
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    for (source, file, headers) in shipped::EXAMPLES {
        let text = std::fs::read(root().join("examples").join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        for n in 0..VARIANTS {
            let body = match serde_json::from_slice::<Value>(&text) {
                Ok(mut v) => {
                    vary(&mut v, "", &mut rng);
                    if *source == "typeform" {
                        let a = &mut v["form_response"]["answers"];
                        a[3]["choices"]["labels"] = serde_json::json!([TYPES
                            .choose(&mut rng)
                            .copied()
                            .unwrap_or("Artist")]);
                        a[4]["choice"]["label"] = SOURCES
                            .choose(&mut rng)
                            .copied()
                            .unwrap_or("Website")
                            .into();
                    }
                    v.to_string().into_bytes()
                }
                // A form post (Acuity) as it came.
                Err(_) => text.clone(),
            };
            let at = some_time(&mut rng);
            let ev =
                shipped::stored_event(&rs, source, &body, headers, at, Some(format!("{seed}-{n}")));
            let parts = ev.parts().expect("an event just packed");
            out.push([
                parts.plan,
                parts.body,
                parts.trace.into_bytes(),
                parts.headers.into_bytes(),
                parts.fields.into_bytes(),
            ]);
        }
    }
    out
}

/// Bytes an event's parts take raw, packed in one frame alone and with
/// `dictionary` (as the store packs them: store::event_pack), over
/// `samples`.
fn measure(samples: &[[Vec<u8>; 5]], dictionary: &[u8]) -> (usize, usize, usize) {
    let mut alone = zstd::bulk::Compressor::new(LEVEL).expect("a compressor");
    let mut with =
        zstd::bulk::Compressor::with_dictionary(LEVEL, dictionary).expect("a dictionary");
    let (mut raw, mut a, mut w) = (0, 0, 0);
    for parts in samples {
        let frame = parts.concat();
        raw += frame.len();
        a += alone.compress(&frame).map_or(frame.len(), |c| c.len());
        w += with.compress(&frame).map_or(frame.len(), |c| c.len());
    }
    (raw, a, w)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let write = args
        .iter()
        .position(|a| a == "--write")
        .and_then(|i| args.get(i + 1));
    let dictionary = match write {
        Some(path) => {
            let train = samples(1);
            let parts: Vec<&[u8]> = train
                .iter()
                .flat_map(|parts| parts.iter().map(Vec::as_slice))
                .filter(|p| !p.is_empty())
                .collect();
            let dict = zstd::dict::from_samples(&parts, DICTIONARY_BYTES)
                .unwrap_or_else(|e| panic!("training the dictionary: {e}"));
            std::fs::write(path, &dict).unwrap_or_else(|e| panic!("{path}: {e}"));
            println!(
                "trained on {} samples of {} events: {} bytes written to {path}",
                parts.len(),
                train.len(),
                dict.len()
            );
            dict
        }
        None => hsflow::store::packed::DICTIONARY.to_vec(),
    };
    let test = samples(2);
    let (raw, alone, with) = measure(&test, &dictionary);
    let n = test.len() as f64;
    println!(
        "{} events it was not trained on (every example, {VARIANTS} times): an event's plan, body, trace, headers and fields are {:.0} bytes, packed in one frame alone {:.0}, with the dictionary {:.0} ({:.1}x smaller than alone)",
        test.len(),
        raw as f64 / n,
        alone as f64 / n,
        with as f64 / n,
        alone as f64 / with.max(1) as f64
    );
}
