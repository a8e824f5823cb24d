//! Step 3 — the blocking prediction in the threadpool.

use super::step1::response;
use super::step2::fetch_external_data_async;
use super::SyncCall;
use crate::model::Raised;
use crate::model::{PhaseKind, PredictionRequest, PredictionResponse};
use crate::runtime::{EventLoop, Thread};

/// Step 3's `run_model_prediction`, which says where it runs.
pub fn run_model_prediction(t: &impl Thread, data_point: f64) -> f64 {
    t.print("Starting model prediction (in thread pool)...");
    t.block(PhaseKind::Cpu, "run_model_prediction", t.durations().cpu_ms); // time.sleep(1)
    let result = data_point * 2.0;
    t.print("Finished model prediction (in thread pool).");
    result
}

/// `async def predict_fully_asynchronous(request)` — `POST /predict_full_async`.
pub async fn predict_fully_asynchronous(
    s: &impl EventLoop,
    request: &PredictionRequest,
) -> Result<PredictionResponse, Raised> {
    s.print("Received full async prediction request.");
    let external_data = fetch_external_data_async(s, request.item_id).await;
    let prediction_result = s
        .run_in_threadpool(SyncCall::RunModelPrediction(request.feature_value))
        .await? // an exception in the model is re-raised here
        .into_prediction();
    s.print("Sending response.");
    Ok(response(&external_data, prediction_result))
}
