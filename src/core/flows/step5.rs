//! Step 5, past the tutorial — CPU-bound work in a process pool. Each process has its
//! own interpreter and GIL, so pure-Python predictions run side by side, up to the
//! pool's size, where the threadpool would take turns on one GIL.

use super::step1::response;
use super::step2::fetch_external_data_async;
use super::SyncCall;
use crate::model::Raised;
use crate::model::{PhaseKind, PredictionRequest, PredictionResponse};
use crate::runtime::{EventLoop, Thread};

/// `run_model_prediction` as the process pool runs it, saying where.
pub fn run_model_prediction(t: &impl Thread, data_point: f64) -> f64 {
    t.print("Starting model prediction (in a process)...");
    t.block(PhaseKind::Cpu, "run_model_prediction", t.durations().cpu_ms);
    let result = data_point * 2.0;
    t.print("Finished model prediction (in a process).");
    result
}

/// `async def predict_in_process_pool(request)` — `POST /predict_process_pool`.
pub async fn predict_in_process_pool(
    s: &impl EventLoop,
    request: &PredictionRequest,
) -> Result<PredictionResponse, Raised> {
    s.print("Received process pool prediction request.");
    let external_data = fetch_external_data_async(s, request.item_id).await;
    let prediction_result = s
        .run_in_process_pool(SyncCall::PredictInProcess(request.feature_value))
        .await? // loop.run_in_executor(process_pool, run_model_prediction, x)
        .into_prediction();
    s.print("Sending response.");
    Ok(response(&external_data, prediction_result))
}
