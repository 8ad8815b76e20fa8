//! The `GET /models` catalogue entry: [`ModelInfo`] with its [`Pricing`], read from 2026's
//! `architecture.input_modalities` or an older catalogue's `modality: "text+image->text"`, and the
//! questions the chains ask of it (free? images? reasoning?).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::lenient::{lenient, lenient_vec, opt_f64, opt_string, opt_u64};

/// One `/models` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(from = "RawModel")]
pub struct ModelInfo {
    /// Routable slug, e.g. `meta-llama/llama-3.2-90b-vision-instruct`.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Context window in tokens.
    pub context_length: Option<u64>,
    /// `architecture.input_modalities` (`text`, `image`, …).
    pub input_modalities: Vec<String>,
    /// `architecture.output_modalities` (`text`, `image`, `audio`, …).
    #[serde(default)]
    pub output_modalities: Vec<String>,
    /// Prices, USD per token (per image / per request for those two).
    pub pricing: Pricing,
    /// `expiration_date` (`YYYY-MM-DD`): the model may go away after it.
    pub expiration_date: Option<String>,
    /// `supported_parameters` (`reasoning`, `include_reasoning`, `tools`, …).
    #[serde(default)]
    pub supported_parameters: Vec<String>,
}

/// A model's prices, parsed from OpenRouter's strings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct Pricing {
    /// USD per prompt token.
    #[serde(deserialize_with = "opt_f64")]
    pub prompt: Option<f64>,
    /// USD per completion token.
    #[serde(deserialize_with = "opt_f64")]
    pub completion: Option<f64>,
    /// USD per request.
    #[serde(deserialize_with = "opt_f64")]
    pub request: Option<f64>,
    /// USD per input image.
    #[serde(deserialize_with = "opt_f64")]
    pub image: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawModel {
    #[serde(deserialize_with = "opt_string")]
    id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    name: Option<String>,
    #[serde(deserialize_with = "opt_u64")]
    context_length: Option<u64>,
    #[serde(deserialize_with = "lenient")]
    architecture: Option<Value>,
    /// Our own serialized form keeps modalities at the top level.
    #[serde(deserialize_with = "lenient_vec")]
    input_modalities: Vec<String>,
    #[serde(deserialize_with = "lenient_vec")]
    output_modalities: Vec<String>,
    #[serde(deserialize_with = "lenient")]
    pricing: Pricing,
    #[serde(deserialize_with = "opt_string")]
    expiration_date: Option<String>,
    #[serde(deserialize_with = "lenient_vec")]
    supported_parameters: Vec<String>,
}

impl From<RawModel> for ModelInfo {
    fn from(r: RawModel) -> Self {
        let strings = |list: &[Value]| -> Vec<String> {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        };
        let split = |part: &str| -> Vec<String> {
            part.split('+')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let mut input_modalities = r.input_modalities;
        let mut output_modalities = r.output_modalities;
        if let Some(arch) = &r.architecture {
            // Older catalogues: only `modality: "text+image->text"`.
            let modality = arch.get("modality").and_then(Value::as_str).unwrap_or("");
            let (inputs, outputs) = modality.split_once("->").unwrap_or((modality, ""));
            if let Some(list) = arch.get("input_modalities").and_then(Value::as_array) {
                input_modalities = strings(list);
            } else if input_modalities.is_empty() {
                input_modalities = split(inputs);
            }
            if let Some(list) = arch.get("output_modalities").and_then(Value::as_array) {
                output_modalities = strings(list);
            } else if output_modalities.is_empty() {
                output_modalities = split(outputs);
            }
        }
        ModelInfo {
            id: r.id.unwrap_or_default(),
            name: r.name,
            context_length: r.context_length,
            input_modalities,
            output_modalities,
            pricing: r.pricing,
            expiration_date: r.expiration_date,
            supported_parameters: r.supported_parameters,
        }
    }
}

impl ModelInfo {
    /// A `:free` variant, or a model whose prompt and completion prices are both zero.
    pub fn is_free(&self) -> bool {
        self.id.ends_with(":free")
            || (self.pricing.prompt == Some(0.0) && self.pricing.completion == Some(0.0))
    }

    /// Whether the model takes image input (`input_modalities` contains `image`).
    pub fn takes_images(&self) -> bool {
        self.input_modalities.iter().any(|m| m == "image")
    }

    /// Whether the model answers in text only (an unknown output list counts as text).
    pub fn outputs_text_only(&self) -> bool {
        self.output_modalities.is_empty() || self.output_modalities.iter().all(|m| m == "text")
    }

    /// Whether the model can return its reasoning (`supported_parameters` has `reasoning` or
    /// `include_reasoning`).
    pub fn reasons(&self) -> bool {
        self.supported_parameters
            .iter()
            .any(|p| p == "reasoning" || p == "include_reasoning")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openrouter::types::lenient::DataEnvelope;

    #[test]
    fn models_parse_with_vision_and_free_helpers() {
        let body = r#"{"data":[
 {"id":"deepseek/deepseek-r1","name":"DeepSeek: R1","context_length":64000,
  "architecture":{"modality":"text->text","input_modalities":["text"],"output_modalities":["text"]},
  "pricing":{"prompt":"0.0000007","completion":"0.0000025","request":"0","image":"0","internal_reasoning":"0"}},
 {"id":"meta-llama/llama-3.2-90b-vision-instruct","name":"Meta: Llama 3.2 90B Vision Instruct","context_length":131072,
  "architecture":{"modality":"text+image->text","input_modalities":["text","image"],"output_modalities":["text"]},
  "pricing":{"prompt":"0.00000035","completion":"0.0000004","request":"0","image":"0.0005058"},"expiration_date":"2026-09-30"},
 {"id":"google/gemma-4-31b-it:free","name":"Google: Gemma 4 31B (free)","context_length":131072,
  "architecture":{"modality":"text+image->text","input_modalities":["text","image"]},
  "pricing":{"prompt":"0","completion":"0","request":"0","image":"0"}},
 {"id":"old/vision","architecture":{"modality":"text+image->text"},"pricing":null},
 {"id":"zero/priced","pricing":{"prompt":0,"completion":"0"}}
]}"#;
        let models: DataEnvelope<Vec<ModelInfo>> = serde_json::from_str(body).unwrap();
        let m = models.data;
        assert_eq!(m.len(), 5);
        assert!(!m[0].takes_images() && !m[0].is_free());
        assert_eq!(m[0].pricing.prompt, Some(0.0000007));
        assert!(m[1].takes_images() && !m[1].is_free());
        assert_eq!(m[1].expiration_date.as_deref(), Some("2026-09-30"));
        assert!(m[2].takes_images() && m[2].is_free());
        assert!(m[3].takes_images());
        assert!(m[4].is_free());
        let back: ModelInfo = serde_json::from_value(serde_json::to_value(&m[1]).unwrap()).unwrap();
        assert_eq!(back, m[1]);
    }
}
