//! `POST /api/v1/chat/completions`: auth, scripted responses, request parsing and image checks,
//! model fallbacks, per-account limits, faults, and the JSON or SSE answer.
//!
//! Order of the gates (each one answers and stops):
//! 1. auth: 401 (missing / unknown key), 402 (`no_credit`), 403 (`spend_limited`);
//! 2. a queued scripted response, verbatim (not counted toward limits);
//! 3. body parsing (400) and image decoding (400 `invalid_image: …`);
//! 4. model choice over `model` + `models`: with strict model ids, ids missing from the
//!    catalogue are skipped and the unknown-id 400 answers when none is listed; 404 when none
//!    is available; `openrouter/free` picks a free model that fits;
//! 5. paid models only: 402 when the account has no credits, then the scripted 402 faults
//!    (key limit, weight, in-flight with `Retry-After`);
//! 6. the account's daily then per-minute limit (429); passing counts the request;
//! 7. faults (timeout, random 5xx, HTML 524, 200-with-error, malformed or cut bodies);
//! 8. the answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use rand::Rng;
use serde_json::Value;

use crate::bodies::{self, Paid402};
use crate::catalog::{self, ModelFacts};
use crate::completion::{Completion, GenerationMeta, Prompt, chat_answer, image_tokens};
use crate::config::{NoCreditsBody, ScriptedResponse};
use crate::record::RecordedImage;
use crate::sse;
use crate::state::{Caller, Gate, KnownKey, Settings, Shared};
use crate::vision::{self, DecodedImage};

/// Model used when a request names none.
const DEFAULT_MODEL: &str = "deepseek/deepseek-r1";

/// The bearer token of a request, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get("authorization")?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The answer to callers that fail auth, or `None` for a usable key.
pub(crate) fn auth_failure(caller: &Caller) -> Option<Response> {
    match caller {
        Caller::Missing => Some(bodies::missing_auth()),
        Caller::Unknown { .. } => Some(bodies::user_not_found()),
        Caller::Known(_) => None,
    }
}

/// What the mock reads from a chat request body.
struct ChatRequest {
    model: Option<String>,
    models: Vec<String>,
    stream: bool,
    exclude_reasoning: bool,
    all_text: String,
    last_user_text: String,
    messages: u64,
    image_urls: Vec<String>,
}

fn parse_request(body: &[u8], user_id: &str) -> Result<ChatRequest, Box<Response>> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        Box::new(bodies::bad_request_for(
            &format!("Invalid JSON body: {e}"),
            "invalid_request",
            user_id,
        ))
    })?;
    if !v.is_object() {
        return Err(Box::new(bodies::bad_request_for(
            "Request body must be a JSON object",
            "invalid_request",
            user_id,
        )));
    }
    let model = v["model"].as_str().map(str::to_string);
    let models = v["models"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let stream = v["stream"].as_bool().unwrap_or(false);
    let exclude_reasoning = v["reasoning"]["exclude"].as_bool() == Some(true)
        || v["include_reasoning"].as_bool() == Some(false);

    let mut texts = Vec::new();
    let mut last_user_text = String::new();
    let mut image_urls = Vec::new();
    let mut messages = 0;
    match (&v["messages"], &v["prompt"]) {
        (Value::Array(msgs), _) if !msgs.is_empty() => {
            for m in msgs {
                messages += 1;
                let mut msg_text = Vec::new();
                match &m["content"] {
                    Value::String(s) => msg_text.push(s.clone()),
                    Value::Array(parts) => {
                        for p in parts {
                            match p["type"].as_str() {
                                Some("text") => {
                                    if let Some(t) = p["text"].as_str() {
                                        msg_text.push(t.to_string());
                                    }
                                }
                                Some("image_url") => {
                                    let url = p["image_url"]["url"]
                                        .as_str()
                                        .or_else(|| p["image_url"].as_str())
                                        .unwrap_or("");
                                    image_urls.push(url.to_string());
                                }
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
                if m["role"].as_str() == Some("user") {
                    last_user_text = msg_text.join(" ");
                }
                texts.extend(msg_text);
            }
        }
        (_, Value::String(p)) => {
            messages = 1;
            texts.push(p.clone());
            last_user_text = p.clone();
        }
        _ => {
            return Err(Box::new(bodies::bad_request_for(
                "Input required: specify \"prompt\" or \"messages\"",
                "invalid_request",
                user_id,
            )));
        }
    }
    Ok(ChatRequest {
        model,
        models,
        stream,
        exclude_reasoning,
        all_text: texts.join("\n"),
        last_user_text,
        messages,
        image_urls,
    })
}

/// Picks the first available model of `model` + `models` and its facts. With strict model ids,
/// ids the catalogue does not list are skipped; when none is listed the unknown-id 400 for the
/// first one answers.
fn choose_model(
    shared: &Shared,
    req: &ChatRequest,
    settings: &Settings,
    user_id: &str,
) -> Result<(String, ModelFacts), Box<Response>> {
    let mut chain: Vec<&str> = req.model.iter().map(String::as_str).collect();
    chain.extend(req.models.iter().map(String::as_str));
    if chain.is_empty() {
        chain.push(DEFAULT_MODEL);
    }
    let catalog = &settings.catalog;
    let listed: Vec<&str> = if settings.strict_models {
        chain
            .iter()
            .copied()
            .filter(|m| catalog.contains(m))
            .collect()
    } else {
        chain.clone()
    };
    if listed.is_empty() {
        let availability = shared.next_unknown_is_availability();
        return Err(Box::new(bodies::unknown_model(
            chain[0],
            &chain,
            availability,
            user_id,
        )));
    }
    let has_images = !req.image_urls.is_empty();
    let mut first_failure = None;
    for m in &listed {
        let mut answering = (*m).to_string();
        if *m == catalog::FREE_ROUTER && catalog.contains(m) {
            match catalog.free_router_pick(has_images) {
                Some(pick) => answering = pick,
                None => {
                    first_failure.get_or_insert_with(|| bodies::no_endpoints(m, user_id));
                    continue;
                }
            }
        }
        let facts = catalog.facts(&answering);
        let failure = if settings.unavailable_models.contains(&answering) {
            Some(bodies::no_endpoints(&answering, user_id))
        } else if has_images && !facts.vision {
            Some(bodies::no_image_endpoints(user_id))
        } else {
            None
        };
        match failure {
            None => return Ok((answering, facts)),
            Some(resp) => {
                first_failure.get_or_insert(resp);
            }
        }
    }
    Err(Box::new(first_failure.unwrap_or_else(|| {
        bodies::no_endpoints(listed[0], user_id)
    })))
}

/// The 402 a paid-model request meets, if any: no credits, else a scripted 402 fault.
fn paid_gate(shared: &Shared, key: &KnownKey, settings: &Settings) -> Option<Response> {
    let kind = if !key.has_credits {
        Paid402::NoCredits {
            never_purchased: settings.no_credits_body == NoCreditsBody::NeverPurchased,
        }
    } else {
        shared.take_paid_fault()?
    };
    Some(bodies::paid_402(kind, &key.user_id))
}

fn scripted_response(s: ScriptedResponse) -> Response {
    let mut resp = if s.sse {
        // Write event by event so clients see separate reads.
        let mut frames = Vec::new();
        let mut rest = s.body.as_str();
        while let Some(i) = rest.find("\n\n") {
            frames.push(sse::Frame::Data(Bytes::from(rest[..i + 2].to_string())));
            rest = &rest[i + 2..];
        }
        if !rest.is_empty() {
            frames.push(sse::Frame::Data(Bytes::from(rest.to_string())));
        }
        sse::framed_response(s.status, "text/event-stream", frames)
    } else {
        bodies::raw_response(s.status, "application/json", s.body)
    };
    for (name, value) in &s.headers {
        if name.eq_ignore_ascii_case("content-type") {
            resp.headers_mut().remove("content-type");
        }
        bodies::add_header(&mut resp, name, value);
    }
    resp
}

/// The handler.
pub(crate) async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let caller = shared.authenticate(bearer(&headers));
    let key_id = caller.key_id();
    let seq = shared.begin_request(&key_id);
    let settings = shared.settings();
    if settings.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(settings.latency_ms)).await;
    }
    let resp = answer(&shared, &caller, seq, &settings, &headers, &body, started).await;
    shared.finish_request(seq, &key_id, resp.status().as_u16());
    resp
}

async fn answer(
    shared: &Shared,
    caller: &Caller,
    seq: u64,
    settings: &Settings,
    headers: &HeaderMap,
    body: &[u8],
    started: Instant,
) -> Response {
    if let Some(resp) = auth_failure(caller) {
        return resp;
    }
    let Caller::Known(key) = caller else {
        return bodies::user_not_found();
    };
    if key.no_credit {
        return bodies::no_credit(&key.user_id);
    }
    if key.spend_limited {
        return bodies::key_limit_exceeded(&key.user_id);
    }
    if let Some(s) = shared.next_scripted() {
        shared.update_request(seq, |r| r.scripted = true);
        return scripted_response(s);
    }

    let req = match parse_request(body, &key.user_id) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    shared.update_request(seq, |r| {
        r.model = req.model.clone();
        r.models = req.models.clone();
        r.stream = req.stream;
        r.text = req.all_text.clone();
    });

    let images = match decode_images(&req.image_urls).await {
        Ok(images) => images,
        Err((decoded, message)) => {
            record_images(shared, seq, &decoded);
            return bodies::bad_request_for(
                &format!("invalid_image: {message}"),
                "invalid_image",
                &key.user_id,
            );
        }
    };
    record_images(shared, seq, &images);

    let (model, facts) = match choose_model(shared, &req, settings, &key.user_id) {
        Ok(m) => m,
        Err(resp) => return *resp,
    };
    if !facts.free
        && let Some(resp) = paid_gate(shared, key, settings)
    {
        return resp;
    }

    if let Some(resp) = limit_gate(shared, key) {
        return resp;
    }
    shared.update_request(seq, |r| r.model_used = Some(model.clone()));

    let faults = &settings.faults;
    if faults.timeout {
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
    if faults.error_rate_5xx > 0.0 && rand::rng().random::<f64>() < faults.error_rate_5xx {
        return bodies::server_error(rand::rng().random::<bool>(), &key.user_id);
    }
    if faults.html_body {
        return bodies::cloudflare_524();
    }
    let model_fails = faults.error_in_200_models.contains(&model);
    if (faults.error_in_200 || model_fails) && !req.stream {
        return bodies::json_response(200, &bodies::provider_error_body(&key.user_id));
    }

    let content = answer_text(&req, &images, settings).await;
    let total_image_tokens = images.iter().map(|i| image_tokens(i.width, i.height)).sum();
    let completion = Completion::with_facts(
        &model,
        &facts,
        content,
        &req.last_user_text,
        &Prompt {
            all_text: &req.all_text,
            messages: req.messages,
            image_tokens: total_image_tokens,
            num_images: images.len() as u64,
            exclude_reasoning: req.exclude_reasoning,
        },
    );
    shared.add_usage(&key.key_id, completion.cost(), crate::clock::now());

    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if req.stream {
        let plan = sse::stream_plan(&completion, faults, model_fails);
        let record = completion.generation_json(&GenerationMeta {
            referer: header("http-referer"),
            user_agent: header("user-agent"),
            streamed: true,
            cancelled: plan.cancelled,
            finish_reason: plan.finish_reason,
            latency_ms,
        });
        shared.store_generation(completion.id.clone(), record);
        return sse::sse_response(&completion.id, plan.frames);
    }

    let record = completion.generation_json(&GenerationMeta {
        referer: header("http-referer"),
        user_agent: header("user-agent"),
        streamed: false,
        cancelled: faults.cut_stream,
        finish_reason: "stop",
        latency_ms,
    });
    shared.store_generation(completion.id.clone(), record);
    let body = completion.response_json().to_string();
    let mut resp = if faults.malformed_json {
        let mut end = body.len() / 2;
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        bodies::raw_response(200, "application/json", body[..end].to_string())
    } else if faults.cut_stream || faults.keepalive_comments {
        sse::framed_response(200, "application/json", sse::json_frames(&body, faults))
    } else {
        bodies::raw_response(200, "application/json", body)
    };
    bodies::add_header(&mut resp, "X-Generation-Id", &completion.id);
    resp
}

/// Applies the account's limits; `Some(429)` when the request may not go through.
fn limit_gate(shared: &Shared, key: &KnownKey) -> Option<Response> {
    match shared.check_and_count(key, crate::clock::now()) {
        Gate::Pass => None,
        Gate::Daily { limit, reset_ms } => Some(bodies::daily_limit(limit, reset_ms, &key.user_id)),
        Gate::Minute {
            limit,
            reset_ms,
            retry_after_s,
        } => Some(bodies::minute_limit(
            limit,
            reset_ms,
            retry_after_s,
            &key.user_id,
        )),
    }
}

/// Decodes every image URL; on failure returns the images decoded so far and the reason.
async fn decode_images(urls: &[String]) -> Result<Vec<DecodedImage>, (Vec<DecodedImage>, String)> {
    let mut out = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let url = url.clone();
        let decoded = tokio::task::spawn_blocking(move || vision::decode_data_url(&url))
            .await
            .unwrap_or_else(|e| Err(format!("decoder failed: {e}")));
        match decoded {
            Ok(img) => out.push(img),
            Err(msg) => {
                let msg = if urls.len() > 1 {
                    format!("image {}: {msg}", i + 1)
                } else {
                    msg
                };
                return Err((out, msg));
            }
        }
    }
    Ok(out)
}

fn record_images(shared: &Shared, seq: u64, images: &[DecodedImage]) {
    if images.is_empty() {
        return;
    }
    let meta: Vec<RecordedImage> = images
        .iter()
        .map(|i| RecordedImage {
            mime: i.mime.clone(),
            width: i.width,
            height: i.height,
            bytes: i.bytes.len() as u64,
        })
        .collect();
    shared.update_request(seq, |r| r.images = meta);
    shared.store_images(seq, images.iter().map(|i| i.bytes.clone()).collect());
}

/// The answer's content: OCR text or a description for images, else `You asked: …`.
async fn answer_text(req: &ChatRequest, images: &[DecodedImage], settings: &Settings) -> String {
    if images.is_empty() {
        return chat_answer(&req.last_user_text);
    }
    let use_ocr = settings.ocr_with_tesseract && vision::tesseract_available();
    let mut parts = Vec::new();
    for img in images {
        let ocr = if use_ocr {
            vision::ocr(&img.image).await
        } else {
            None
        };
        parts.push(ocr.unwrap_or_else(|| {
            format!(
                "Received image {}x{} {} ({} bytes).",
                img.width,
                img.height,
                img.mime,
                img.bytes.len()
            )
        }));
    }
    let sep = if use_ocr { "\n\n" } else { "\n" };
    parts.join(sep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_multimodal_request() {
        let body = br#"{"model":"a","models":["b","c"],"stream":true,
            "messages":[{"role":"system","content":"sys"},
                        {"role":"user","content":[{"type":"text","text":"read this"},
                          {"type":"image_url","image_url":{"url":"data:x"}}]}]}"#;
        let r = parse_request(body, "user_x").ok().unwrap();
        assert_eq!(r.model.as_deref(), Some("a"));
        assert_eq!(r.models, vec!["b", "c"]);
        assert!(r.stream);
        assert_eq!(r.all_text, "sys\nread this");
        assert_eq!(r.last_user_text, "read this");
        assert_eq!(r.image_urls, vec!["data:x"]);
        assert_eq!(r.messages, 2);
    }

    #[test]
    fn rejects_bodies_without_messages() {
        assert!(parse_request(br#"{"model":"a"}"#, "u").is_err());
        assert!(parse_request(b"not json", "u").is_err());
    }

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert("authorization", "Bearer  abc ".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
