//! Step 6, past the tutorial — what its last line advises: "for heavy background work,
//! a dedicated task queue (Celery) is often preferred". The log job goes to a queue and
//! is run by queue workers outside the server, so it takes no threadpool token.

use super::step1::response;
use super::step2::fetch_external_data_async;
use super::SyncCall;
use crate::model::Raised;
use crate::model::{PredictionRequest, PredictionResponse};
use crate::runtime::EventLoop;

/// `async def predict_with_task_queue(request)` — `POST /predict_task_queue`.
pub async fn predict_with_task_queue(
    s: &impl EventLoop,
    request: &PredictionRequest,
) -> Result<PredictionResponse, Raised> {
    s.print("Received prediction request with a task queue.");
    let external_data = fetch_external_data_async(s, request.item_id).await;
    let prediction_result = s
        .run_in_threadpool(SyncCall::RunModelPrediction(request.feature_value))
        .await?
        .into_prediction();
    let response = response(&external_data, prediction_result);
    // log_prediction_details.delay(request.model_dump(), response.model_dump())
    s.delay(SyncCall::LogPredictionDetails {
        request: *request,
        response: response.clone(),
    });
    s.print("Sending response (log job queued).");
    Ok(response)
}
