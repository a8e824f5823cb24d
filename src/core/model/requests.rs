//! A report's requests, column by column.
//!
//! A run of 100 000 requests has 100 000 records of a dozen fields and a handful of
//! phases each. Kept as rows (a struct per request, a `Vec` of phases and a `String` of
//! metadata in each) they took about 470 bytes a request and 300 000 allocations; kept
//! as columns they take about 150 bytes and a few dozen allocations, and a column is a
//! slice a timeline or a chart reads straight through, or hands to JavaScript as a typed
//! array.
//!
//! The JSON form is the rows' (`[{id, sent_ms, …, phases: […]}, …]`): readers of a
//! report never see the columns. In Rust, [`Requests::iter`] and [`Requests::at`] give
//! each request as a [`RequestRef`], with the row's field names.

use super::record::{Answer, Phase, PredictionRequest, PredictionResponse, RequestRecord};
use super::stats::Outcome;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// No error, no text.
const NONE: u32 = u32::MAX;

/// The response body of a 200, its metadata interned.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Body {
    item_id: i64,
    prediction: f64,
    metadata: u32,
}

/// Every request of a run, in id order, column by column.
#[derive(Clone, Debug, Default)]
pub struct Requests {
    id: Vec<u64>,
    worker: Vec<u32>,
    request: Vec<PredictionRequest>,
    sent_ms: Vec<f64>,
    accepted_ms: Vec<f64>,
    responded_ms: Vec<f64>,
    /// `NaN`: no background task.
    background_done_ms: Vec<f64>,
    status: Vec<u16>,
    body: Vec<Option<Body>>,
    /// Into `texts`; `NONE` for no error.
    error: Vec<u32>,
    /// Request `i`'s phases are `phases[phase_at[i]..phase_at[i + 1]]`.
    phase_at: Vec<u32>,
    phases: Vec<Phase>,
    /// The distinct metadata and error texts.
    texts: Vec<String>,
}

impl PartialEq for Requests {
    /// The same requests (`NaN`, no background task, equals itself).
    fn eq(&self, o: &Requests) -> bool {
        let same_bits = |a: &[f64], b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
        };
        self.id == o.id
            && self.worker == o.worker
            && self.request == o.request
            && self.sent_ms == o.sent_ms
            && self.accepted_ms == o.accepted_ms
            && self.responded_ms == o.responded_ms
            && same_bits(&self.background_done_ms, &o.background_done_ms)
            && self.status == o.status
            && self.body == o.body
            && self.error == o.error
            && self.phase_at == o.phase_at
            && self.phases == o.phases
            && self.texts == o.texts
    }
}

/// One request of [`Requests`], with the row's fields (the answer is made on demand).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RequestRef<'a> {
    pub id: u64,
    /// The server worker (`uvicorn --workers`) that took it; 0 with one worker.
    pub worker: u64,
    pub request: PredictionRequest,
    pub sent_ms: f64,
    pub accepted_ms: f64,
    pub responded_ms: f64,
    pub latency_ms: f64,
    pub status: u16,
    pub background_done_ms: Option<f64>,
    pub phases: &'a [Phase],
    of: &'a Requests,
    index: usize,
}

impl RequestRef<'_> {
    /// Answered 200.
    pub fn is_ok(&self) -> bool {
        self.status == 200
    }

    /// What it got back.
    pub fn answer(&self) -> Answer {
        let r = self.of;
        Answer {
            status: self.status,
            response: r.body[self.index].map(|b| PredictionResponse {
                item_id: b.item_id,
                metadata: r.texts[b.metadata as usize].clone(),
                prediction: b.prediction,
            }),
            error: r.text(r.error[self.index]),
        }
    }

    /// What it got, as the numbers count it.
    pub fn outcome(&self) -> Outcome {
        Outcome {
            latency_ms: self.latency_ms,
            responded_ms: self.responded_ms,
            ok: self.is_ok(),
            background_done_ms: self.background_done_ms,
        }
    }

    /// As a row.
    pub fn to_record(&self) -> RequestRecord {
        RequestRecord {
            id: self.id,
            worker: self.worker,
            request: self.request,
            sent_ms: self.sent_ms,
            accepted_ms: self.accepted_ms,
            responded_ms: self.responded_ms,
            latency_ms: self.latency_ms,
            answer: self.answer(),
            background_done_ms: self.background_done_ms,
            phases: self.phases.to_vec(),
        }
    }
}

impl Requests {
    pub fn len(&self) -> usize {
        self.id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.id.is_empty()
    }

    fn text(&self, i: u32) -> Option<String> {
        (i != NONE).then(|| self.texts[i as usize].clone())
    }

    fn intern(&mut self, text: &str) -> u32 {
        // Few distinct texts (two metadata strings, an error or two): a scan is enough.
        match self.texts.iter().position(|t| t == text) {
            Some(i) => i as u32,
            None => {
                self.texts.push(text.to_string());
                (self.texts.len() - 1) as u32
            }
        }
    }

    /// The `i`-th request (in id order).
    ///
    /// # Panics
    /// If there are not that many.
    pub fn at(&self, i: usize) -> RequestRef<'_> {
        let (sent_ms, responded_ms) = (self.sent_ms[i], self.responded_ms[i]);
        let bg = self.background_done_ms[i];
        RequestRef {
            id: self.id[i],
            worker: u64::from(self.worker[i]),
            request: self.request[i],
            sent_ms,
            accepted_ms: self.accepted_ms[i],
            responded_ms,
            latency_ms: responded_ms - sent_ms,
            status: self.status[i],
            background_done_ms: (!bg.is_nan()).then_some(bg),
            phases: self.phases_of(i),
            of: self,
            index: i,
        }
    }

    /// The `i`-th request, if there is one.
    pub fn get(&self, i: usize) -> Option<RequestRef<'_>> {
        (i < self.len()).then(|| self.at(i))
    }

    /// The `i`-th request's phases.
    pub fn phases_of(&self, i: usize) -> &[Phase] {
        let (a, b) = (self.phase_at[i] as usize, self.phase_at[i + 1] as usize);
        &self.phases[a..b]
    }

    /// Every request, in id order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            of: self,
            next: 0,
            end: self.len(),
        }
    }

    /// Every phase of every request, with its request's index.
    pub fn all_phases(&self) -> impl Iterator<Item = (usize, &Phase)> + '_ {
        (0..self.len()).flat_map(move |i| self.phases_of(i).iter().map(move |p| (i, p)))
    }

    /// The columns, for a chart or JavaScript's typed arrays, in id order.
    pub fn id_column(&self) -> &[u64] {
        &self.id
    }
    pub fn worker_column(&self) -> &[u32] {
        &self.worker
    }
    pub fn sent_column(&self) -> &[f64] {
        &self.sent_ms
    }
    pub fn accepted_column(&self) -> &[f64] {
        &self.accepted_ms
    }
    pub fn responded_column(&self) -> &[f64] {
        &self.responded_ms
    }
    pub fn status_column(&self) -> &[u16] {
        &self.status
    }
    /// `NaN` where a request had no background task.
    pub fn background_done_column(&self) -> &[f64] {
        &self.background_done_ms
    }
    /// Request `i`'s phases are `phases()[offsets[i]..offsets[i + 1]]`.
    pub fn phase_offsets(&self) -> &[u32] {
        if self.phase_at.is_empty() {
            &[0]
        } else {
            &self.phase_at
        }
    }
    /// Every request's phases, one after another.
    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }

    /// Adds a request after the others.
    pub fn push(&mut self, mut r: RequestRecord) {
        let phases = std::mem::take(&mut r.phases);
        self.push_with(r, phases);
    }

    /// Adds a request after the others, its phases given apart (`r.phases` is ignored):
    /// no vector of its own on the way.
    pub fn push_with(&mut self, r: RequestRecord, phases: impl IntoIterator<Item = Phase>) {
        if self.phase_at.is_empty() {
            self.phase_at.push(0);
        }
        self.id.push(r.id);
        self.worker.push(u32::try_from(r.worker).unwrap_or(u32::MAX));
        self.request.push(r.request);
        self.sent_ms.push(r.sent_ms);
        self.accepted_ms.push(r.accepted_ms);
        self.responded_ms.push(r.responded_ms);
        self.background_done_ms
            .push(r.background_done_ms.unwrap_or(f64::NAN));
        self.status.push(r.answer.status);
        let body = r.answer.response.map(|b| Body {
            item_id: b.item_id,
            prediction: b.prediction,
            metadata: self.intern(&b.metadata),
        });
        self.body.push(body);
        let error = match &r.answer.error {
            Some(e) => self.intern(e),
            None => NONE,
        };
        self.error.push(error);
        self.phases.extend(phases);
        self.phase_at.push(self.phases.len() as u32);
    }

    pub fn from_rows(rows: impl IntoIterator<Item = RequestRecord>) -> Requests {
        let mut out = Requests::default();
        for r in rows {
            out.push(r);
        }
        out
    }

    /// Every request as a row.
    pub fn to_rows(&self) -> Vec<RequestRecord> {
        self.iter().map(|r| r.to_record()).collect()
    }

    /// Changes the requests as rows (a test's way to make a measurement differ).
    pub fn edit(&mut self, f: impl FnOnce(&mut Vec<RequestRecord>)) {
        let mut rows = self.to_rows();
        f(&mut rows);
        *self = Requests::from_rows(rows);
    }
}

/// Every request, in id order (`for q in &report.requests`).
pub struct Iter<'a> {
    of: &'a Requests,
    next: usize,
    end: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = RequestRef<'a>;
    fn next(&mut self) -> Option<RequestRef<'a>> {
        (self.next < self.end).then(|| {
            self.next += 1;
            self.of.at(self.next - 1)
        })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.end - self.next, Some(self.end - self.next))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        (self.next < self.end).then(|| {
            self.end -= 1;
            self.of.at(self.end)
        })
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Requests {
    type Item = RequestRef<'a>;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl FromIterator<RequestRecord> for Requests {
    fn from_iter<I: IntoIterator<Item = RequestRecord>>(rows: I) -> Requests {
        Requests::from_rows(rows)
    }
}

/// A request as JSON has it: the row's fields, borrowed.
#[derive(Serialize)]
struct RowOut<'a> {
    id: u64,
    #[serde(skip_serializing_if = "is_zero")]
    worker: u64,
    request: PredictionRequest,
    sent_ms: f64,
    accepted_ms: f64,
    responded_ms: f64,
    latency_ms: f64,
    status: u16,
    response: Option<PredictionResponseOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    background_done_ms: Option<f64>,
    phases: &'a [Phase],
}

#[derive(Serialize)]
struct PredictionResponseOut<'a> {
    item_id: i64,
    metadata: &'a str,
    prediction: f64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Serialize for Requests {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(|r| RowOut {
            id: r.id,
            worker: r.worker,
            request: r.request,
            sent_ms: r.sent_ms,
            accepted_ms: r.accepted_ms,
            responded_ms: r.responded_ms,
            latency_ms: r.latency_ms,
            status: r.status,
            response: self.body[r.index].map(|b| PredictionResponseOut {
                item_id: b.item_id,
                metadata: &self.texts[b.metadata as usize],
                prediction: b.prediction,
            }),
            error: (self.error[r.index] != NONE).then(|| self.texts[self.error[r.index] as usize].as_str()),
            background_done_ms: r.background_done_ms,
            phases: r.phases,
        }))
    }
}

impl<'de> Deserialize<'de> for Requests {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Requests, D::Error> {
        Ok(Requests::from_rows(Vec::<RequestRecord>::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PhaseKind, Place};

    fn row(id: u64, ok: bool) -> RequestRecord {
        RequestRecord {
            id,
            worker: id % 2,
            request: PredictionRequest::for_index(id),
            sent_ms: id as f64,
            accepted_ms: id as f64 + 0.5,
            responded_ms: id as f64 + 10.0,
            latency_ms: 10.0,
            answer: if ok {
                Answer::ok(PredictionResponse {
                    item_id: 123 + id as i64,
                    metadata: "some_fetched_value".into(),
                    prediction: 2.5 * id as f64,
                })
            } else {
                Answer::server_error(&"ValueError: no model")
            },
            background_done_ms: ok.then_some(id as f64 + 20.0),
            phases: (0..id % 3)
                .map(|k| Phase {
                    kind: PhaseKind::Io,
                    start_ms: k as f64,
                    end_ms: k as f64 + 1.0,
                    on: Place::Loop,
                    blocking: false,
                })
                .collect(),
        }
    }

    #[test]
    fn columns_give_back_the_rows_they_were_made_of() {
        let rows: Vec<RequestRecord> = (0..7).map(|i| row(i, i != 3)).collect();
        let cols = Requests::from_rows(rows.clone());
        assert_eq!(cols.len(), 7);
        assert_eq!(cols.to_rows(), rows);
        assert_eq!(cols.at(4).phases, &rows[4].phases[..]);
        assert!(!cols.at(3).is_ok());
        assert_eq!(cols.at(3).answer().error.as_deref(), Some("ValueError: no model"));
        assert_eq!(cols.texts.len(), 2, "metadata and the error, once each");
        assert!(cols.get(7).is_none());
    }

    #[test]
    fn json_is_the_rows_json() {
        let rows: Vec<RequestRecord> = (0..5).map(|i| row(i, i != 1)).collect();
        let cols = Requests::from_rows(rows.clone());
        let as_rows = serde_json::to_string(&rows).unwrap();
        assert_eq!(serde_json::to_string(&cols).unwrap(), as_rows);
        let back: Requests = serde_json::from_str(&as_rows).unwrap();
        assert_eq!(back, cols);
    }
}
