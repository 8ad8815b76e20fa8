//! The queue's own rules: names, ids, limits, refusals, results by id. A batch through the
//! queue against keywheel-mock is in `tests/core/ocr_queue.rs`.

use super::*;

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn done(file: &str, text: &str) -> ImageResult {
    let mut r = pdf_free_result(file);
    r.text = Some(text.into());
    r
}

fn pdf_free_result(file: &str) -> ImageResult {
    ImageResult {
        caller_id: 0,
        file: file.into(),
        status: JobStatus::Done,
        text: None,
        model: None,
        key_id: None,
        cached: false,
        local: false,
        label: None,
        resumed: false,
        width: 0,
        height: 0,
        tiles: 1,
        requests: 0,
        error_class: None,
        error: None,
        wait_until: None,
    }
}

#[test]
fn names_are_cleaned_and_made_unique() {
    let images = Queue::default();
    let a = images.stage("../../etc/shot.png", vec![1]).unwrap();
    let b = images.stage("shot.png", vec![1]).unwrap();
    let c = images.stage("", vec![1]).unwrap();
    assert_eq!(a.name, "shot.png");
    assert_eq!(b.name, "shot (2).png");
    assert_eq!(c.name, "pasted image");
    assert_ne!(a.id, b.id);
}

#[test]
fn duplicate_names_count_up_and_keep_their_extension() {
    let q = Queue::default();
    let names: Vec<String> = [
        "scan.tar.gz",
        "scan.tar.gz",
        "scan.tar.gz",
        "README",
        "README",
    ]
    .iter()
    .map(|n| q.stage(n, vec![1]).unwrap().name)
    .collect();
    assert_eq!(
        names,
        [
            "scan.tar.gz",
            "scan.tar (2).gz",
            "scan.tar (3).gz",
            "README",
            "README (2)"
        ]
    );
    // A dotfile has no stem to number before its dot: the number goes after the name.
    assert_eq!(q.stage(".env", vec![1]).unwrap().name, ".env");
    assert_eq!(q.stage(".env", vec![1]).unwrap().name, ".env (2)");
    // A name freed by removal is given again; control characters and folders never show.
    let id = q.list().iter().find(|s| s.name == "README").unwrap().id;
    q.remove(id).unwrap();
    assert_eq!(
        q.stage("C:\\Users\\me\\READ\u{7}ME", vec![1]).unwrap().name,
        "README"
    );
}

#[test]
fn the_queue_keeps_staging_order_and_never_reuses_an_id() {
    let q = Queue::default();
    let a = q.stage("a.png", png(4, 4)).unwrap();
    let b = q.stage("b.png", png(4, 4)).unwrap();
    let c = q.stage_page("c.pdf (page 1)", None, None, 0);
    assert!(a.id < b.id && b.id < c.id, "ids grow: {a:?} {b:?} {c:?}");
    q.remove(b.id).unwrap();
    let d = q.stage("b.png", png(4, 4)).unwrap();
    assert!(d.id > c.id, "a removed id is not given again");
    let listed: Vec<(u32, String)> = q.list().into_iter().map(|s| (s.id, s.name)).collect();
    assert_eq!(
        listed,
        [
            (a.id, "a.png".to_string()),
            (c.id, "c.pdf (page 1)".to_string()),
            (d.id, "b.png".to_string()),
        ]
    );
    let e = q.remove(b.id).unwrap_err();
    assert_eq!(e.code(), crate::ErrorCode::Usage);
    assert!(e.to_string().contains(&format!("#{}", b.id)), "{e}");
}

#[test]
fn inputs_carry_their_staged_id_as_caller_id_in_the_order_asked() {
    let q = Queue::default();
    let a = q.stage("a.png", png(8, 6)).unwrap();
    let b = q.stage("a.png", png(6, 8)).unwrap();
    let inputs = q.inputs(&[b.id, a.id]).unwrap();
    let got: Vec<(u64, &str)> = inputs
        .iter()
        .map(|i| (i.caller_id, i.file.as_str()))
        .collect();
    assert_eq!(
        got,
        [(u64::from(b.id), "a (2).png"), (u64::from(a.id), "a.png")],
        "the id, not the name, names an image"
    );
    assert_eq!(staged_id(u64::from(b.id)), b.id);
    assert_eq!(staged_id(u64::MAX), 0, "an id no queue gave maps to none");
    let e = q.inputs(&[]).unwrap_err();
    assert_eq!(e.code(), crate::ErrorCode::Usage);
}

#[test]
fn results_are_kept_by_id_and_text_needs_one() {
    let q = Queue::default();
    let a = q.stage("same.png", vec![1]).unwrap();
    let b = q.stage("same.png", vec![1]).unwrap();
    let e = q.text(a.id).unwrap_err();
    assert!(e.to_string().contains("has no text yet"), "{e}");
    q.set_result(b.id, done("same.png", "second"));
    q.set_result(a.id, done("same.png", "first"));
    q.set_result(999, done("gone.png", "nobody"));
    assert_eq!(q.text(a.id).unwrap(), ("same.png".into(), "first".into()));
    assert_eq!(
        q.text(b.id).unwrap(),
        ("same (2).png".into(), "second".into())
    );
    assert!(q.text(999).unwrap_err().to_string().contains("#999"));
    q.set_result(a.id, pdf_free_result("same.png"));
    assert!(q.text(a.id).is_err(), "the latest result counts");
}

#[test]
fn one_batch_at_a_time_and_cancel_reaches_it() {
    let q = Queue::default();
    q.cancel(); // nothing running: nothing happens
    let token = q.begin().unwrap();
    let e = q.begin().unwrap_err();
    assert!(e.to_string().contains("already running"), "{e}");
    q.cancel();
    assert!(token.is_cancelled());
    q.end();
    let next = q.begin().unwrap();
    assert!(!next.is_cancelled(), "a new batch gets a fresh token");
}

#[test]
fn empty_and_oversized_files_are_refused_with_their_name() {
    let images = Queue::default();
    let e = images.stage("x.png", vec![]).unwrap_err().to_string();
    assert!(e.contains("x.png") && e.contains("empty"), "{e}");
    let e = images
        .stage("big.jpg", vec![0; MAX_BYTES + 1])
        .unwrap_err()
        .to_string();
    assert!(e.contains("big.jpg") && e.contains("limit"), "{e}");
    assert!(images.list().is_empty(), "nothing staged");
}

#[test]
fn a_bad_image_fails_the_plan_naming_it() {
    let images = Queue::default();
    let id = images
        .stage("notes.png", b"not an image".to_vec())
        .unwrap()
        .id;
    let e = images.inputs(&[id]).unwrap_err();
    assert_eq!(e.code(), crate::ErrorCode::BadInput);
    assert!(e.to_string().contains("notes.png"), "{e}");
    assert!(
        images
            .inputs(&[999])
            .unwrap_err()
            .to_string()
            .contains("#999")
    );
    let other = images.stage("other.png", b"nor this".to_vec()).unwrap().id;
    let e = images.inputs(&[id, other]).unwrap_err().to_string();
    assert!(
        e.starts_with("2 images cannot be used")
            && e.contains("notes.png")
            && e.contains("other.png"),
        "{e}"
    );
}

#[test]
fn devices_pipes_and_folders_are_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.png");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo");
    let folder = dir.path().join("photos");
    std::fs::create_dir(&folder).unwrap();
    // The pipe first: the old code blocked for ever opening it (and read /dev/zero until
    // memory ran out).
    let cases = [
        (fifo.clone(), "pipe.png"),
        ("/dev/zero".into(), "zero"),
        (folder.clone(), "photos"),
    ];
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let images = Queue::default();
        for (path, _) in &cases {
            let _ = tx.send(
                images
                    .stage_path(path)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            );
        }
        assert!(images.list().is_empty());
    });
    for name in ["pipe.png", "zero", "photos"] {
        // A hang detector, not a time limit: the answer comes at once.
        let got = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("staging `{name}` never returned"));
        let e = got.expect_err(name);
        assert!(e.contains(name), "{e}");
        assert!(
            e.contains("folder") || e.contains("not a regular file"),
            "{e}"
        );
    }
}

#[test]
fn a_dropped_regular_file_is_staged_under_its_own_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("receipt.png");
    std::fs::write(&path, png(12, 9)).unwrap();
    let q = Queue::default();
    let s = q.stage_path(&path).unwrap();
    assert_eq!(s.name, "receipt.png");
    assert_eq!(s.bytes, std::fs::metadata(&path).unwrap().len());
    let input = &q.inputs(&[s.id]).unwrap()[0];
    assert_eq!(input.file, "receipt.png");
    assert!(!input.prepared.tiles.is_empty(), "prepared when staged");
}

#[test]
fn an_oversized_raw_body_is_refused_before_it_is_copied() {
    let images = Queue::default();
    let body = vec![0u8; MAX_BYTES + 1];
    let e = within_limit("big.png", &body).unwrap_err().to_string();
    assert!(e.contains("big.png") && e.contains("limit"), "{e}");
    let ok = within_limit("ok.png", &body[..10]).unwrap().to_vec();
    assert!(images.stage("ok.png", ok).is_ok());
}

#[test]
fn events_and_results_serialize_as_the_web_view_reads_them() {
    let tile = OcrEvent::Tile {
        id: 3,
        tile: 0,
        of: 2,
        status: JobStatus::Done,
        local: false,
        free: true,
    };
    let json = serde_json::to_value(&tile).unwrap();
    assert_eq!(json["type"], "tile");
    assert_eq!(json["id"], 3);
    let r = OcrResult {
        id: 7,
        result: done("a.png", "hi").clone(),
    };
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["id"], 7);
    assert_eq!(json["result"]["text"], "hi");
    assert!(
        json["result"].get("caller_id").is_none(),
        "the caller id stays in Rust"
    );
}
