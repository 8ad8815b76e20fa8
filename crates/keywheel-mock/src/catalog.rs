//! The mock's model catalogue: what `GET /api/v1/models` lists, which models take images, which
//! reason like DeepSeek R1, who "provides" them, what they cost and whether they are free.
//!
//! The built-in catalogue below is the default. A real `/models` answer can replace it
//! ([`Catalog::from_json`]): it is then served byte for byte, and chat reads each model's
//! `architecture.input_modalities`, `pricing` and `supported_parameters` from it.
//!
//! Without strict model ids, models that are not in the catalogue are still served (as
//! image-capable, priced like a small paid model, free when the id ends in `:free`) so tests may
//! use any slug.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{Value, json};

/// What chat needs to know about one model.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ModelFacts {
    /// `input_modalities` has `image`.
    pub vision: bool,
    /// The answer streams reasoning first.
    pub reasoning: bool,
    /// `:free`, or zero-priced prompt and completion: no credits needed.
    pub free: bool,
    /// USD per prompt token, completion token and input image.
    pub prompt_price: f64,
    pub completion_price: f64,
    pub image_price: f64,
    /// The provider name reported in answers.
    pub provider: String,
    /// Output text (`output_modalities` has `text`); routers pick only these.
    pub text_output: bool,
}

impl ModelFacts {
    /// Facts assumed for an id the catalogue does not list (non-strict mode only).
    pub fn unknown(id: &str) -> Self {
        let free = id.ends_with(":free");
        ModelFacts {
            vision: true,
            reasoning: is_reasoning(id),
            free,
            prompt_price: if free { 0.0 } else { 0.000_000_2 },
            completion_price: if free { 0.0 } else { 0.000_000_6 },
            image_price: 0.0,
            provider: "DeepInfra".to_string(),
            text_output: true,
        }
    }

    fn builtin(m: &ModelInfo) -> Self {
        let prompt_price = m.prompt_price.parse().unwrap_or(0.0);
        let completion_price = m.completion_price.parse().unwrap_or(0.0);
        ModelFacts {
            vision: m.vision,
            reasoning: is_reasoning(m.id),
            free: m.id.ends_with(":free") || (prompt_price == 0.0 && completion_price == 0.0),
            prompt_price,
            completion_price,
            image_price: m.image_price.parse().unwrap_or(0.0),
            provider: m.provider.to_string(),
            text_output: true,
        }
    }
}

/// The catalogue a server answers from: the `/models` body and the facts per model id.
#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    body: Bytes,
    models: HashMap<String, ModelFacts>,
    /// Ids in the order `/models` lists them.
    order: Vec<String>,
}

impl Catalog {
    /// The built-in catalogue.
    pub fn builtin() -> Self {
        let body = Bytes::from(models_body().to_string());
        Catalog {
            body,
            models: CATALOG
                .iter()
                .map(|m| (m.id.to_string(), ModelFacts::builtin(m)))
                .collect(),
            order: CATALOG.iter().map(|m| m.id.to_string()).collect(),
        }
    }

    /// A catalogue read from a real `GET /api/v1/models` answer (`{"data":[…]}`), which is then
    /// served verbatim. Fails with a sentence when the text is not such an answer.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| format!("the catalogue is not JSON: {e}"))?;
        let data = v["data"]
            .as_array()
            .ok_or("the catalogue has no \"data\" array (expected a GET /api/v1/models answer)")?;
        let mut models = HashMap::new();
        let mut order = Vec::new();
        for (i, m) in data.iter().enumerate() {
            let id = m["id"]
                .as_str()
                .ok_or_else(|| format!("catalogue entry {i} has no \"id\""))?;
            let has = |list: &Value, what: &str| {
                list.as_array()
                    .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(what)))
            };
            let price = |field: &str| -> f64 {
                match &m["pricing"][field] {
                    Value::String(s) => s.parse().unwrap_or(0.0),
                    Value::Number(n) => n.as_f64().unwrap_or(0.0),
                    _ => 0.0,
                }
            };
            let (prompt, completion, request) =
                (price("prompt"), price("completion"), price("request"));
            let arch = &m["architecture"];
            let text_output = arch["output_modalities"].as_array().is_none()
                || has(&arch["output_modalities"], "text");
            let params = &m["supported_parameters"];
            let free = id.ends_with(":free")
                || (prompt == 0.0
                    && completion == 0.0
                    && request == 0.0
                    && m["pricing"].is_object());
            let facts = ModelFacts {
                vision: has(&arch["input_modalities"], "image"),
                reasoning: is_reasoning(id)
                    || has(params, "reasoning")
                    || has(params, "include_reasoning"),
                free,
                // Routers carry "-1" (priced by what they route to): cost nothing here.
                prompt_price: prompt.max(0.0),
                completion_price: completion.max(0.0),
                image_price: price("image").max(0.0),
                provider: if free { "Chutes" } else { "DeepInfra" }.to_string(),
                text_output,
            };
            if models.insert(id.to_string(), facts).is_none() {
                order.push(id.to_string());
            }
        }
        Ok(Catalog {
            body: Bytes::from(text.to_string()),
            models,
            order,
        })
    }

    /// The `/models` body.
    pub fn body(&self) -> Bytes {
        self.body.clone()
    }

    /// Whether the catalogue lists `id`.
    pub fn contains(&self, id: &str) -> bool {
        self.models.contains_key(id)
    }

    /// The facts of `id`: listed, or assumed ([`ModelFacts::unknown`]).
    pub fn facts(&self, id: &str) -> ModelFacts {
        self.models
            .get(id)
            .cloned()
            .unwrap_or_else(|| ModelFacts::unknown(id))
    }

    /// The model the `openrouter/free` router answers with: the first free, text-output,
    /// non-router model in catalogue order that takes images when the request has some.
    /// Content-safety classifiers are skipped.
    pub fn free_router_pick(&self, images: bool) -> Option<String> {
        self.order
            .iter()
            .filter(|id| {
                !id.starts_with("openrouter/") && !id.contains("safety") && !id.contains("guard")
            })
            .find(|id| {
                let f = &self.models[id.as_str()];
                f.free && f.text_output && (!images || f.vision)
            })
            .cloned()
    }
}

/// The id of OpenRouter's free router.
pub(crate) const FREE_ROUTER: &str = "openrouter/free";

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

/// True for models that stream `delta.reasoning` before the answer (DeepSeek R1 family).
pub(crate) fn is_reasoning(id: &str) -> bool {
    id.contains("deepseek-r1")
}

/// One model in the shape of `GET /api/v1/models` (docs/openrouter.md).
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
