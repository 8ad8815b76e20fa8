//! OpenRouter's own wording, in one place: the error bodies of
//! `fixtures/openrouter/errors/` (sources and dates in the README there), included once.
//!
//! The mock serves these bodies (filling in the caller's `user_id`, model ids and limits), and
//! the core's classification tests read the same constants, so a change of OpenRouter's wording
//! is one file changed.

macro_rules! error_fixtures {
    ($($(#[$doc:meta])* $name:ident = $file:literal;)*) => {
        $(
            $(#[$doc])*
            #[doc = concat!("\n\nFile `fixtures/openrouter/errors/", $file, "`.")]
            pub const $name: &str = include_str!(concat!("../fixtures/openrouter/errors/", $file));
        )*
        /// Every error fixture as (file name, body), in file-name order.
        pub const ALL: &[(&str, &str)] = &[$(($file, $name)),*];
    };
}

error_fixtures! {
    /// 200: an error object with a word `code` (a mid-stream error's shape).
    ERROR_WORD_CODE_200 = "200-error-word-code.json";
    /// 200: "Provider returned error" (Targon, `raw: "timeout"`) inside a 200 body.
    PROVIDER_ERROR_200 = "200-provider-returned-error.json";
    /// 400: a typed `invalid_image` error.
    INVALID_IMAGE = "400-invalid-image.json";
    /// 400: "… is not a valid model ID", availability shape (`model_not_found`).
    UNKNOWN_ID_AVAILABILITY = "400-not-a-valid-model-id-availability.json";
    /// 400: "… is not a valid model ID", plain shape.
    UNKNOWN_ID = "400-not-a-valid-model-id.json";
    /// 400: a typed `unsupported_image_format` error.
    UNSUPPORTED_IMAGE_FORMAT = "400-unsupported-image-format.json";
    /// 401: no `Authorization` header.
    MISSING_AUTH = "401-missing-auth-header.json";
    /// 401: "No auth credentials found".
    NO_AUTH_CREDENTIALS = "401-no-auth-credentials.json";
    /// 401: a key OpenRouter does not know ("User not found.").
    USER_NOT_FOUND = "401-user-not-found.json";
    /// 402: "can only afford N" (this one request is too big for the balance).
    CAN_ONLY_AFFORD = "402-can-only-afford.json";
    /// 402: too many paid requests in flight (`in_flight_budget_exhausted`).
    IN_FLIGHT = "402-in-flight-budget.json";
    /// 402: insufficient credits, `limit_source: openrouter_credits`.
    LIMIT_SOURCE_CREDITS = "402-insufficient-credits-limit-source.json";
    /// 402: insufficient credits (the older body, `metadata.provider_name: null`).
    INSUFFICIENT_CREDITS = "402-insufficient-credits.json";
    /// 402: the key's own credit cap (`limit_source: openrouter_key_limit`).
    KEY_LIMIT_402 = "402-key-limit.json";
    /// 402: the account never purchased credits.
    NEVER_PURCHASED = "402-never-purchased-credits.json";
    /// 402: `weight_exceeds_budget`.
    WEIGHT = "402-weight-exceeds-budget.json";
    /// 403: a guardrail block.
    GUARDRAIL = "403-guardrail.json";
    /// 403: "Key limit exceeded (daily limit)".
    KEY_LIMIT_EXCEEDED = "403-key-limit-exceeded.json";
    /// 403: input flagged by moderation.
    MODERATION = "403-moderation-flagged.json";
    /// 404: no endpoint matches the account's data policy.
    DATA_POLICY = "404-data-policy.json";
    /// 404: `GET /generation` for an id not (yet) recorded.
    GENERATION_NOT_FOUND = "404-generation-not-found.json";
    /// 404: a typed `image_not_found` error.
    IMAGE_NOT_FOUND = "404-image-not-found.json";
    /// 404: "No endpoints found for <model>.".
    NO_ENDPOINTS = "404-no-endpoints-for-model.json";
    /// 404: "No endpoints found that support image input".
    NO_IMAGE_ENDPOINTS = "404-no-image-endpoints.json";
    /// 408: "Operation timed out".
    TIMED_OUT = "408-operation-timed-out.json";
    /// 413: "Request payload too large".
    PAYLOAD_TOO_LARGE = "413-payload-too-large.json";
    /// 429: all providers of a model at capacity (availability `capacity_exhausted`).
    CAPACITY_EXHAUSTED = "429-capacity-exhausted.json";
    /// 429: the daily free-model cap, accounts with ≥ 10 credits bought.
    FREE_PER_DAY_HIGH_BALANCE = "429-free-models-per-day-high-balance.json";
    /// 429: the daily free-model cap (50 a day).
    FREE_PER_DAY = "429-free-models-per-day.json";
    /// 429: the per-minute free-model cap.
    FREE_PER_MIN = "429-free-models-per-min.json";
    /// 429: a free model throttled upstream ("Provider returned error", `retry_after_seconds`).
    UPSTREAM_429 = "429-provider-rate-limited-upstream.json";
    /// 429: the documented minimal form.
    RATE_LIMIT_EXCEEDED = "429-rate-limit-exceeded.json";
    /// 502: "Provider returned error" with the provider's JSON in `raw`.
    PROVIDER_ERROR_502 = "502-provider-returned-error.json";
    /// 503: "Service temporarily unavailable".
    SERVICE_UNAVAILABLE = "503-service-unavailable.json";
    /// 524: Cloudflare's HTML timeout page (not JSON).
    CLOUDFLARE_524 = "524-cloudflare-timeout.html";
}

#[cfg(test)]
mod tests {
    use super::ALL;

    #[test]
    fn every_file_in_the_folder_is_listed_once_and_json_files_parse() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/openrouter/errors");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        on_disk.sort();
        let listed: Vec<String> = ALL.iter().map(|(name, _)| name.to_string()).collect();
        assert_eq!(
            listed, on_disk,
            "fixtures::ALL must list every file, sorted"
        );
        for (name, body) in ALL {
            if name.ends_with(".json") {
                let v: serde_json::Value = serde_json::from_str(body)
                    .unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
                assert!(v["error"].is_object(), "{name} has no error object");
            }
        }
    }
}
