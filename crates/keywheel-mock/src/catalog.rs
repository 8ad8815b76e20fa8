//! The mock's model catalogue: what `GET /api/v1/models` lists, which models take images, which
//! reason like DeepSeek R1, who "provides" them and what they cost.
//!
//! Models that are not in the catalogue are still served (as text-only-unknown, image-capable,
//! priced like a small paid model) so tests may use any slug; only `unavailable_models` and the
//! image check turn a model away.

use serde_json::{Value, json};

/// One catalogue entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ModelInfo {
    pub id: &'static str,
    pub name: &'static str,
    pub created: i64,
    pub context_length: u64,
    pub max_completion_tokens: u64,
    pub vision: bool,
    pub tokenizer: &'static str,
    pub instruct_type: Option<&'static str>,
    /// USD per token, as OpenRouter's strings.
    pub prompt_price: &'static str,
    pub completion_price: &'static str,
    /// USD per input image.
    pub image_price: &'static str,
    pub provider: &'static str,
}

pub(crate) const CATALOG: &[ModelInfo] = &[
    ModelInfo {
        id: "deepseek/deepseek-r1-0528",
        name: "DeepSeek: R1 0528",
        created: 1748455170,
        context_length: 163840,
        max_completion_tokens: 32768,
        vision: false,
        tokenizer: "DeepSeek",
        instruct_type: Some("deepseek-r1"),
        prompt_price: "0.0000005",
        completion_price: "0.00000215",
        image_price: "0",
        provider: "DeepInfra",
    },
    ModelInfo {
        id: "deepseek/deepseek-r1",
        name: "DeepSeek: R1",
        created: 1737381095,
        context_length: 64000,
        max_completion_tokens: 16000,
        vision: false,
        tokenizer: "DeepSeek",
        instruct_type: Some("deepseek-r1"),
        prompt_price: "0.0000007",
        completion_price: "0.0000025",
        image_price: "0",
        provider: "DeepInfra",
    },
    ModelInfo {
        id: "deepseek/deepseek-r1-0528:free",
        name: "DeepSeek: R1 0528 (free)",
        created: 1748455170,
        context_length: 163840,
        max_completion_tokens: 32768,
        vision: false,
        tokenizer: "DeepSeek",
        instruct_type: Some("deepseek-r1"),
        prompt_price: "0",
        completion_price: "0",
        image_price: "0",
        provider: "Chutes",
    },
    ModelInfo {
        id: "meta-llama/llama-3.2-90b-vision-instruct",
        name: "Meta: Llama 3.2 90B Vision Instruct",
        created: 1727222400,
        context_length: 131072,
        max_completion_tokens: 16384,
        vision: true,
        tokenizer: "Llama3",
        instruct_type: Some("llama3"),
        prompt_price: "0.00000035",
        completion_price: "0.0000004",
        image_price: "0.0005058",
        provider: "DeepInfra",
    },
    ModelInfo {
        id: "meta-llama/llama-3.2-11b-vision-instruct",
        name: "Meta: Llama 3.2 11B Vision Instruct",
        created: 1727222400,
        context_length: 131072,
        max_completion_tokens: 16384,
        vision: true,
        tokenizer: "Llama3",
        instruct_type: Some("llama3"),
        prompt_price: "0.000000049",
        completion_price: "0.000000049",
        image_price: "0.00007948",
        provider: "Together",
    },
    ModelInfo {
        id: "qwen/qwen2.5-vl-72b-instruct",
        name: "Qwen: Qwen2.5 VL 72B Instruct",
        created: 1738410311,
        context_length: 32000,
        max_completion_tokens: 8192,
        vision: true,
        tokenizer: "Qwen",
        instruct_type: None,
        prompt_price: "0.00000025",
        completion_price: "0.00000075",
        image_price: "0",
        provider: "Novita",
    },
    ModelInfo {
        id: "google/gemma-4-31b-it:free",
        name: "Google: Gemma 4 31B (free)",
        created: 1775000000,
        context_length: 131072,
        max_completion_tokens: 8192,
        vision: true,
        tokenizer: "Gemini",
        instruct_type: None,
        prompt_price: "0",
        completion_price: "0",
        image_price: "0",
        provider: "Google AI Studio",
    },
    ModelInfo {
        id: "meta-llama/llama-4-maverick",
        name: "Meta: Llama 4 Maverick",
        created: 1743881822,
        context_length: 1048576,
        max_completion_tokens: 16384,
        vision: true,
        tokenizer: "Llama4",
        instruct_type: None,
        prompt_price: "0.00000015",
        completion_price: "0.0000006",
        image_price: "0.0006684",
        provider: "DeepInfra",
    },
    ModelInfo {
        id: "meta-llama/llama-3.3-70b-instruct:free",
        name: "Meta: Llama 3.3 70B Instruct (free)",
        created: 1733506137,
        context_length: 131072,
        max_completion_tokens: 8192,
        vision: false,
        tokenizer: "Llama3",
        instruct_type: Some("llama3"),
        prompt_price: "0",
        completion_price: "0",
        image_price: "0",
        provider: "Venice",
    },
    ModelInfo {
        id: "mistralai/mistral-small-3.2-24b-instruct",
        name: "Mistral: Mistral Small 3.2 24B",
        created: 1750443016,
        context_length: 131072,
        max_completion_tokens: 16384,
        vision: false,
        tokenizer: "Mistral",
        instruct_type: None,
        prompt_price: "0.00000005",
        completion_price: "0.0000001",
        image_price: "0",
        provider: "Mistral",
    },
];

/// Looks a model up by its exact id.
pub(crate) fn find(id: &str) -> Option<&'static ModelInfo> {
    CATALOG.iter().find(|m| m.id == id)
}

/// True for models that stream `delta.reasoning` before the answer (DeepSeek R1 family).
pub(crate) fn is_reasoning(id: &str) -> bool {
    id.contains("deepseek-r1")
}

/// Whether the model takes images: catalogue value, or true for unknown slugs.
pub(crate) fn takes_images(id: &str) -> bool {
    find(id).map(|m| m.vision).unwrap_or(true)
}

/// The provider name reported for a model.
pub(crate) fn provider(id: &str) -> &'static str {
    find(id).map(|m| m.provider).unwrap_or("DeepInfra")
}

/// Prices (prompt per token, completion per token, per image) in USD.
pub(crate) fn prices(id: &str) -> (f64, f64, f64) {
    match find(id) {
        Some(m) => (
            m.prompt_price.parse().unwrap_or(0.0),
            m.completion_price.parse().unwrap_or(0.0),
            m.image_price.parse().unwrap_or(0.0),
        ),
        None if id.ends_with(":free") => (0.0, 0.0, 0.0),
        None => (0.000_000_2, 0.000_000_6, 0.0),
    }
}

/// One model in the shape of `GET /api/v1/models` (reference §10.6).
fn model_json(m: &ModelInfo) -> Value {
    let canonical = m.id.trim_end_matches(":free");
    let input: Vec<&str> = if m.vision {
        vec!["text", "image"]
    } else {
        vec!["text"]
    };
    let modality = if m.vision {
        "text+image->text"
    } else {
        "text->text"
    };
    let reasoning = is_reasoning(m.id);
    let mut supported = vec!["max_tokens", "temperature", "top_p", "stop", "seed"];
    if reasoning {
        supported.extend(["include_reasoning", "reasoning"]);
    }
    let mut v = json!({
        "id": m.id,
        "canonical_slug": canonical,
        "hugging_face_id": null,
        "name": m.name,
        "created": m.created,
        "description": format!("{} (served by keywheel-mock)", m.name),
        "context_length": m.context_length,
        "architecture": {
            "modality": modality,
            "input_modalities": input,
            "output_modalities": ["text"],
            "tokenizer": m.tokenizer,
            "instruct_type": m.instruct_type,
        },
        "pricing": {
            "prompt": m.prompt_price,
            "completion": m.completion_price,
            "request": "0",
            "image": m.image_price,
            "internal_reasoning": "0",
        },
        "top_provider": {
            "context_length": m.context_length,
            "max_completion_tokens": m.max_completion_tokens,
            "is_moderated": false,
        },
        "per_request_limits": null,
        "supported_parameters": supported,
        "default_parameters": null,
        "expiration_date": null,
        "knowledge_cutoff": null,
        "links": { "details": format!("/api/v1/models/{canonical}/endpoints") },
    });
    if reasoning {
        v["reasoning"] = json!({ "mandatory": true, "default_enabled": true });
    }
    v
}

/// The whole `GET /api/v1/models` body.
pub(crate) fn models_body() -> Value {
    json!({ "data": CATALOG.iter().map(model_json).collect::<Vec<_>>() })
}
