async def fetch_external_data_async(item_id: int) -> dict:
    print(f"Fetching external data async for item {item_id}...")
    await asyncio.sleep({io})  # yields the loop while it waits
    print("Finished fetching external data async.")
    return {"item_id": item_id,
            "metadata": "some_fetched_value_async"}

def run_model_prediction(data_point: float) -> float:
    print("Starting model prediction...")
    time.sleep({cpu})  # blocks the thread running it  #: body
    print("Finished model prediction.")
    return data_point * 2

@app.post("/predict_async_io",
          response_model=PredictionResponse)
async def predict_with_async_io(request: PredictionRequest):  #: start token_wait
    print("Received async I/O prediction request.")
    data = await fetch_external_data_async(request.item_id)  #: io loop_wait
    # a plain call in async def: it holds the loop
    prediction = run_model_prediction(request.feature_value)  #: cpu
    print("Sending response.")
    return PredictionResponse(**data, prediction=prediction)  #: respond
