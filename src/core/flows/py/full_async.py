from fastapi.concurrency import run_in_threadpool

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

@app.post("/predict_full_async",
          response_model=PredictionResponse)
async def predict_fully_asynchronous(request: PredictionRequest):  #: start
    print("Received full async prediction request.")
    data = await fetch_external_data_async(request.item_id)  #: io
    # the loop is free while this waits for one of the
    # {tokens} threads and while the thread runs it
    prediction = await run_in_threadpool(  #: cpu token_wait loop_wait
        run_model_prediction, request.feature_value)
    print("Sending response.")
    return PredictionResponse(**data, prediction=prediction)  #: respond
