//! Step 1 — the synchronous endpoint, and the `async def` version of it that the
//! tutorial's text describes ("processed one after another").

use crate::model::{PhaseKind, PredictionRequest, PredictionResponse};
use crate::runtime::{EventLoop, Thread};

/// The fetched metadata (`{"item_id": ..., "metadata": ...}`).
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalData {
    pub item_id: i64,
    pub metadata: &'static str,
}

/// `def run_model_prediction(data_point)`: blocking "inference".
pub fn run_model_prediction(t: &impl Thread, data_point: f64) -> f64 {
    t.print("Starting model prediction...");
    t.block(PhaseKind::Cpu, "run_model_prediction", t.durations().cpu_ms); // time.sleep(1)
    let result = data_point * 2.0;
    t.print("Finished model prediction.");
    result
}

/// `def fetch_external_data(item_id)`: blocking I/O.
pub fn fetch_external_data(t: &impl Thread, item_id: i64) -> ExternalData {
    t.print(format_args!("Fetching external data for item {item_id}..."));
    t.block(PhaseKind::Io, "fetch_external_data", t.durations().io_ms); // time.sleep(0.5)
    t.print("Finished fetching external data.");
    ExternalData {
        item_id,
        metadata: "some_fetched_value",
    }
}

/// `def predict_synchronously(request)` — `POST /predict_sync`. FastAPI runs this in
/// the threadpool (see [`super::handle_request`]).
pub fn predict_synchronously(t: &impl Thread, request: &PredictionRequest) -> PredictionResponse {
    t.print("Received prediction request.");
    let external_data = fetch_external_data(t, request.item_id); // blocking I/O
    let prediction_result = run_model_prediction(t, request.feature_value); // blocking CPU
    t.print("Sending response.");
    response(&external_data, prediction_result)
}

/// `async def predict_blocking(request)` — `POST /predict_blocking`: the same body in an
/// `async def`, so both blocking calls run on the event loop and hold it.
pub async fn predict_blocking(s: &impl EventLoop, request: &PredictionRequest) -> PredictionResponse {
    s.print("Received prediction request.");
    let external_data = fetch_external_data(s, request.item_id); // blocks the loop
    let prediction_result = run_model_prediction(s, request.feature_value); // blocks the loop
    s.print("Sending response.");
    response(&external_data, prediction_result)
}

/// `PredictionResponse(item_id=..., metadata=..., prediction=...)`.
pub(crate) fn response(external_data: &ExternalData, prediction: f64) -> PredictionResponse {
    PredictionResponse {
        item_id: external_data.item_id,
        metadata: external_data.metadata.to_string(),
        prediction,
    }
}
