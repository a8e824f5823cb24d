from fastapi import BackgroundTasks

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

def log_prediction_details(request_data: dict,
                           response_data: dict):
    print("\n--- Background Task Started ---")
    print(f"Logging Request: {request_data}")
    print(f"Logging Response: {response_data}")
    time.sleep({bg})  # a def task: it runs in the threadpool  #: bg_run
    print("--- Background Task Finished ---\n")

@app.post("/predict_with_background",
          response_model=PredictionResponse)
async def predict_with_background_task(  #: start
        request: PredictionRequest,
        background_tasks: BackgroundTasks):
    print("Received prediction request with background task.")
    data = await fetch_external_data_async(request.item_id)  #: io
    prediction = await run_in_threadpool(  #: cpu token_wait loop_wait
        run_model_prediction, request.feature_value)
    response = PredictionResponse(**data, prediction=prediction)
    background_tasks.add_task(  # runs after the response is sent  #: bg_wait
        log_prediction_details,
        request.model_dump(), response.model_dump())
    print("Sending response (background task pending).")
    return response  #: respond
