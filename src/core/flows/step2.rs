//! Step 2 — async I/O, prediction still blocking.

use super::step1::{response, run_model_prediction, ExternalData};
use crate::model::{PhaseKind, PredictionRequest, PredictionResponse};
use crate::runtime::EventLoop;

/// `async def fetch_external_data_async(item_id)`: non-blocking I/O.
pub async fn fetch_external_data_async(s: &impl EventLoop, item_id: i64) -> ExternalData {
    s.print(format_args!("Fetching external data async for item {item_id}..."));
    s.sleep(PhaseKind::Io, s.durations().io_ms).await; // await asyncio.sleep(0.5)
    s.print("Finished fetching external data async.");
    ExternalData {
        item_id,
        metadata: "some_fetched_value_async",
    }
}

/// `async def predict_with_async_io(request)` — `POST /predict_async_io`.
pub async fn predict_with_async_io(s: &impl EventLoop, request: &PredictionRequest) -> PredictionResponse {
    s.print("Received async I/O prediction request.");
    let external_data = fetch_external_data_async(s, request.item_id).await;
    // still blocking CPU: this halts the event loop
    let prediction_result = run_model_prediction(s, request.feature_value);
    s.print("Sending response.");
    response(&external_data, prediction_result)
}
