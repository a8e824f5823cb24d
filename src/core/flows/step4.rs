//! Step 4 — a background task after the response.

use super::step1::response;
use super::step2::fetch_external_data_async;
use super::{BackgroundTasks, SyncCall};
use crate::model::Raised;
use crate::model::{PhaseKind, PredictionRequest, PredictionResponse};
use crate::runtime::{EventLoop, Thread};

/// `def log_prediction_details(request_data, response_data)`: a sync task, so
/// Starlette runs it in the threadpool.
pub fn log_prediction_details(
    t: &impl Thread,
    request_data: &PredictionRequest,
    response_data: &PredictionResponse,
) {
    t.print("\n--- Background Task Started ---");
    t.print(format_args!("Logging Request: {}", request_data.py_dict()));
    t.print(format_args!("Logging Response: {}", response_data.py_dict()));
    t.block(
        PhaseKind::Background,
        "log_prediction_details",
        t.durations().bg_ms,
    ); // time.sleep(0.2)
    t.print("--- Background Task Finished ---\n");
}

/// `async def predict_with_background_task(request, background_tasks)` —
/// `POST /predict_with_background`.
pub async fn predict_with_background_task(
    s: &impl EventLoop,
    request: &PredictionRequest,
    background_tasks: &mut BackgroundTasks,
) -> Result<PredictionResponse, Raised> {
    s.print("Received prediction request with background task.");
    let external_data = fetch_external_data_async(s, request.item_id).await;
    let prediction_result = s
        .run_in_threadpool(SyncCall::RunModelPrediction(request.feature_value))
        .await?
        .into_prediction();
    let response = response(&external_data, prediction_result);
    background_tasks.add_task(SyncCall::LogPredictionDetails {
        request: *request,
        response: response.clone(),
    });
    s.print("Sending response (background task pending).");
    Ok(response)
}
