//! The OpenRouter HTTP client: typed requests and responses, the SSE stream reader, and the
//! one classification of failures (DESIGN §3) every caller uses.
