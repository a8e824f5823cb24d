async def fetch_external_data_async(item_id: int) -> dict:
    print(f"Fetching external data async for item {item_id}...")
    await asyncio.sleep({io})  # yields the loop while it waits
    print("Finished fetching external data async.")
    return {"item_id": item_id,
            "metadata": "some_fetched_value_async"}

def run_model_prediction(data_point: float) -> float:
    print("Starting model prediction (in thread pool)...")
    time.sleep({cpu})  # holds only its pool thread  #: body
    print("Finished model prediction (in thread pool).")
    return data_point * 2

@celery.task  # run by one of {Q} queue workers, not the server
def log_prediction_details(request_data: dict,
                           response_data: dict):
    print("\n--- Background Task Started ---")
    print(f"Logging Request: {request_data}")
    print(f"Logging Response: {response_data}")
    time.sleep({bg})  # in a queue worker's process  #: bg_run
    print("--- Background Task Finished ---\n")

@app.post("/predict_task_queue",
          response_model=PredictionResponse)
async def predict_with_task_queue(request: PredictionRequest):  #: start
    print("Received prediction request with a task queue.")
    data = await fetch_external_data_async(request.item_id)  #: io
    prediction = await run_in_threadpool(  #: cpu token_wait loop_wait
        run_model_prediction, request.feature_value)
    response = PredictionResponse(**data, prediction=prediction)
    # .delay() hands the job to the broker: no thread held
    log_prediction_details.delay(  #: bg_wait
        request.model_dump(), response.model_dump())
    print("Sending response (log job queued).")
    return response  #: respond
