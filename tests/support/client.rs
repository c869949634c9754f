//! HTTP to the service under test: [`Api`] (a base URL and a client) builds requests as [`Call`]s,
//! which are sent by awaiting them, and every answer is a [`Reply`] — status, headers and the
//! parsed JSON body — with the assertions the suites repeat.
//!
//! ```ignore
//! let reply = app.release(SR_QUEUED, &token).await;               // a typed action (endpoints.rs)
//! reply.assert_error(409, "request_conflict", "Invalid program processing status");
//! app.patch(&path, Some(&token), None).idempotency_key("k-1").await; // any request, any header
//! ```

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;

/// Where the service listens, and the client that talks to it (redirects are not followed, so a
/// finished job's 303 is seen as such).
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
}

impl Api {
    pub fn new(base: String) -> Api {
        Api {
            base,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()
                .expect("HTTP client"),
        }
    }

    /// Any request, with no token and no body yet. `path` is relative to the service, or an
    /// absolute URL (from a `Link` or `Location` header).
    pub fn request(&self, method: Method, path: &str) -> Call<'_> {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        Call {
            api: self,
            method,
            url,
            headers: Vec::new(),
            body: Body::None,
        }
    }

    /// GET with an optional bearer token.
    pub fn get(&self, path: &str, token: Option<&str>) -> Call<'_> {
        self.request(Method::GET, path).maybe_token(token)
    }

    /// PATCH with an optional bearer token and an optional JSON body.
    pub fn patch(&self, path: &str, token: Option<&str>, body: Option<&Value>) -> Call<'_> {
        let call = self.request(Method::PATCH, path).maybe_token(token);
        match body {
            Some(body) => call.json(body),
            None => call,
        }
    }

    /// PATCH with a raw body of this `Content-Type`.
    pub fn patch_raw(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Call<'_> {
        self.request(Method::PATCH, path)
            .token(token)
            .raw(content_type, body)
    }

    /// Polls a job until it is no longer pending (at most 60 s) and answers its last reading.
    pub async fn wait_job(&self, href: &str, token: &str) -> Reply {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let reply = self.get(href, Some(token)).await;
            if reply.data()["status"] != "pending" || Instant::now() > deadline {
                return reply;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("metrics answered")
            .text()
            .await
            .expect("metrics text")
    }

    /// The value of one sample of `GET /metrics` (`name{labels}` exactly as printed), or 0 when
    /// the service has not printed it yet.
    pub async fn metric(&self, sample: &str) -> f64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
            .map_or(0.0, |v| v.parse().expect("a number"))
    }
}

#[derive(Clone)]
enum Body {
    None,
    Json(Value),
    Raw(Option<String>, Vec<u8>),
}

/// A request being built; awaiting it sends it and answers its [`Reply`]. A clone is the same
/// request, to send again (a client's retry).
#[must_use = "a request is sent when it is awaited"]
#[derive(Clone)]
pub struct Call<'a> {
    api: &'a Api,
    method: Method,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Body,
}

impl<'a> Call<'a> {
    pub fn token(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn maybe_token(self, token: Option<&str>) -> Self {
        match token {
            Some(token) => self.token(token),
            None => self,
        }
    }

    pub fn header(self, name: &str, value: &str) -> Self {
        self.header_bytes(name, value.as_bytes())
    }

    /// A header whose value need not be text (obs-text bytes, say).
    pub fn header_bytes(mut self, name: &str, value: &[u8]) -> Self {
        self.headers.push((name.to_string(), value.to_vec()));
        self
    }

    pub fn idempotency_key(self, key: &str) -> Self {
        self.header("idempotency-key", key)
    }

    pub fn request_id(self, id: &str) -> Self {
        self.header("x-request-id", id)
    }

    /// Appends `query` (without `?`) to the URL.
    pub fn query(mut self, query: &str) -> Self {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        self.url = format!("{}{separator}{query}", self.url);
        self
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.body = Body::Json(body.clone());
        self
    }

    /// A body of raw bytes with this `Content-Type`.
    pub fn raw(mut self, content_type: &str, bytes: Vec<u8>) -> Self {
        self.body = Body::Raw(Some(content_type.to_string()), bytes);
        self
    }

    /// A body of raw bytes with no `Content-Type` header at all.
    pub fn raw_untyped(mut self, bytes: Vec<u8>) -> Self {
        self.body = Body::Raw(None, bytes);
        self
    }

    pub async fn send(self) -> Reply {
        let mut request = self.api.client.request(self.method, &self.url);
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_slice());
        }
        request = match self.body {
            Body::None => request,
            Body::Json(value) => request.json(&value),
            Body::Raw(Some(content_type), bytes) => {
                request.header("content-type", content_type).body(bytes)
            }
            Body::Raw(None, bytes) => request.body(bytes),
        };
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{} is answered: {e}", self.url));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        Reply {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }
}

impl<'a> IntoFuture for Call<'a> {
    type Output = Reply;
    type IntoFuture = Pin<Box<dyn Future<Output = Reply> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// An expected error answer: status, `error.type` and `error.message`.
pub type Error<'a> = (u16, &'a str, &'a str);

/// One HTTP answer: status, headers and the JSON body (`Null` when empty or not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn error_type(&self) -> &str {
        self.body["error"]["type"].as_str().unwrap_or_default()
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "status of {:#}", self.body);
        self
    }

    /// Asserts a 200 object or list answer and returns its `data`.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        self.assert_status(200);
        assert_eq!(
            self.body["meta"]["code"], 200,
            "meta.code of {:#}",
            self.body
        );
        self.data()
    }

    /// Asserts an error answer: status, `error.type`, `error.message` and the envelope's meta.
    #[track_caller]
    pub fn assert_error(&self, status: u16, kind: &str, message: &str) -> &Self {
        self.assert_case_error("the answer", (status, kind, message))
    }

    /// Asserts eHealth's refusal by the state of an entity: 409 `request_conflict` with
    /// `message` (and the envelope's meta, as [`Reply::assert_error`]).
    #[track_caller]
    pub fn assert_conflict(&self, message: &str) -> &Self {
        self.assert_error(409, "request_conflict", message)
    }

    /// [`Reply::assert_error`] for one case of a table of cases, named in every failure.
    #[track_caller]
    pub fn assert_case_error(&self, case: &str, (status, kind, message): Error<'_>) -> &Self {
        let body = &self.body;
        assert_eq!(self.status, status, "{case}: status of {body:#}");
        assert_eq!(self.error_type(), kind, "{case}: error.type of {body:#}");
        assert_eq!(self.message(), message, "{case}: error.message of {body:#}");
        assert_eq!(
            body["meta"]["code"], status,
            "{case}: meta.code of {body:#}"
        );
        assert!(
            body["meta"]["request_id"].is_string(),
            "{case}: meta.request_id of {body:#}"
        );
        self
    }

    /// Asserts the body is declared JSON (`Content-Type: application/json…`).
    #[track_caller]
    pub fn assert_json(&self) -> &Self {
        let content_type = self.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "content-type of {:?}",
            self.headers
        );
        self
    }

    /// Asserts a refusal that asks the client to come back: a `Retry-After` header and eHealth's
    /// "temporarily unavailable" message.
    #[track_caller]
    pub fn assert_retry_later(&self) -> &Self {
        assert!(self.headers.contains_key("retry-after"), "{:#}", self.body);
        assert!(
            self.message()
                .starts_with("Service temporarily unavailable, please retry"),
            "{:#}",
            self.body
        );
        self
    }

    /// Asserts `error.invalid` is exactly `expected` (after [`Reply::assert_error`]).
    #[track_caller]
    pub fn assert_invalid(&self, expected: Value) -> &Self {
        assert_eq!(
            self.body["error"]["invalid"], expected,
            "error.invalid of {:#}",
            self.body
        );
        self
    }

    /// The entry names of `error.invalid[]`.
    pub fn invalid_entries(&self) -> Vec<String> {
        self.body["error"]["invalid"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["entry"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts a job that finished by changing the entity at `link` (an `entity` of the job
    /// links' kind, e.g. `service_request`): 303 to `link`, status `processed`, status code 200,
    /// and `link` as its one link.
    #[track_caller]
    pub fn assert_processed_linking(&self, entity: &str, link: &str) -> &Self {
        assert_eq!(self.status, 303, "{:#}", self.body);
        assert_eq!(self.data()["status"], "processed", "{:#}", self.body);
        assert_eq!(self.data()["status_code"], 200, "{:#}", self.body);
        assert_eq!(
            self.data()["links"],
            serde_json::json!([{ "entity": entity, "href": link }])
        );
        assert_eq!(self.header("location"), Some(link));
        self
    }

    /// Asserts a job that finished with nothing to link (a resend): 200, status `processed`,
    /// status code 200, an empty `response_data`, and neither links nor a `Location`.
    #[track_caller]
    pub fn assert_processed_without_link(&self) -> &Self {
        assert_eq!(self.status, 200, "{:#}", self.body);
        assert_eq!(self.data()["status"], "processed", "{:#}", self.body);
        assert_eq!(self.data()["status_code"], 200, "{:#}", self.body);
        assert_eq!(self.data()["response_data"], "", "{:#}", self.body);
        assert!(self.data().get("links").is_none(), "{:#}", self.body);
        assert!(self.header("location").is_none(), "{:?}", self.headers);
        self
    }

    /// Asserts a 202 with a pending job and returns the job's link.
    #[track_caller]
    pub fn job_href(&self) -> String {
        assert_eq!(self.status, 202, "expected 202, got {:#}", self.body);
        assert_eq!(self.data()["status"], "pending", "{:#}", self.body);
        assert_eq!(self.data()["links"][0]["entity"], "job", "{:#}", self.body);
        self.data()["links"][0]["href"]
            .as_str()
            .expect("job href")
            .to_string()
    }
}
