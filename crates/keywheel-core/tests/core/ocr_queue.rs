//! The OCR queue (`keywheel_core::ocr::queue`, the app's Read images view) against
//! keywheel-mock: images staged under ids, planned and read as one batch; every event and
//! result comes back under the id it was staged with (the caller id), whatever the order asked
//! and even when two images share a name; a second read is free.

use std::sync::{Arc, Mutex};

use keywheel_core::chains::ModelChoice;
use keywheel_core::dispatch::Dispatcher;
use keywheel_core::keys::OsKeychain;
use keywheel_core::ledger::jobs::JobStatus;
use keywheel_core::ocr::OcrOptions;
use keywheel_core::ocr::queue::{OcrEvent, Queue};
use keywheel_core::pool::{Pool, PoolOptions};
use keywheel_core::{Settings, SystemClock};
use keywheel_mock::{MockConfig, MockServer};
use keywheel_testkit::images::{photo, png_rgb, screenshot};

use crate::key;

fn opts() -> OcrOptions {
    OcrOptions {
        models: ModelChoice::Default,
        concurrency: 2,
        local_fallback: false,
        use_cache: true,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_maps_every_event_and_result_to_its_staged_id() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pool = Pool::open(PoolOptions {
        settings: Settings {
            data_dir: dir.path().join("data"),
            base_url: mock.base_url(),
            keychain: false,
            ..Settings::default()
        },
        clock: Arc::new(SystemClock),
        store: Arc::new(OsKeychain::disabled()),
        env_keys: Some(key(1)),
    })
    .unwrap();
    let dispatcher = Dispatcher::new(Arc::new(pool.start_instance("test").unwrap())).unwrap();

    let queue = Queue::default();
    let a = queue.stage("scan.png", png_rgb(&photo(320, 240))).unwrap();
    let b = queue
        .stage("scan.png", png_rgb(&screenshot(300, 200)))
        .unwrap();
    assert_eq!(
        (a.name.as_str(), b.name.as_str()),
        ("scan.png", "scan (2).png")
    );

    let plan = queue.quota(&pool, &[b.id, a.id], opts()).unwrap();
    assert_eq!(
        (plan.plan.images, plan.plan.needed),
        (2, 2),
        "{}",
        plan.sentence
    );
    assert_eq!(mock.stats().total_requests, 0, "planning spends nothing");

    let events = Mutex::new(Vec::new());
    let results = queue
        .read(&pool, &dispatcher, &[b.id, a.id], opts(), |e| {
            events.lock().unwrap().push(e)
        })
        .await
        .unwrap();
    let got: Vec<(u32, &str, JobStatus)> = results
        .iter()
        .map(|r| (r.id, r.result.file.as_str(), r.result.status))
        .collect();
    assert_eq!(
        got,
        [
            (b.id, "scan (2).png", JobStatus::Done),
            (a.id, "scan.png", JobStatus::Done)
        ],
        "one result per id, in the order asked: {:?}",
        results
            .iter()
            .map(|r| r.result.error.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(mock.stats().total_requests, 2);
    let events = events.into_inner().unwrap();
    let mut tiles: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            OcrEvent::Tile { id, status, .. } if *status == JobStatus::Done => Some(*id),
            _ => None,
        })
        .collect();
    tiles.sort_unstable();
    assert_eq!(
        tiles,
        [a.id, b.id],
        "each tile under its image's id: {events:?}"
    );
    let images: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            OcrEvent::Image { id, result } => {
                assert_eq!(result.status, JobStatus::Done);
                Some(*id)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        images,
        [b.id, a.id],
        "each finished image, in the order asked"
    );
    for r in &results {
        let (name, text) = queue.text(r.id).unwrap();
        assert_eq!(name, r.result.file, "the result is kept under its id");
        assert_eq!(Some(text), r.result.text);
    }
    assert!(queue.begin().is_ok(), "the batch ended: another may start");
    queue.end();

    let again = queue
        .read(&pool, &dispatcher, &[a.id], opts(), |_| {})
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, a.id);
    assert!(
        again[0].result.resumed || again[0].result.cached,
        "{:?}",
        again[0].result
    );
    assert_eq!(mock.stats().total_requests, 2, "read again: free");
}
