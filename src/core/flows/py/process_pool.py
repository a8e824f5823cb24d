from concurrent.futures import ProcessPoolExecutor

process_pool = ProcessPoolExecutor(max_workers={P})

async def fetch_external_data_async(item_id: int) -> dict:
    print(f"Fetching external data async for item {item_id}...")
    await asyncio.sleep({io})  # yields the loop while it waits
    print("Finished fetching external data async.")
    return {"item_id": item_id,
            "metadata": "some_fetched_value_async"}

def run_model_prediction(data_point: float) -> float:
    print("Starting model prediction (in a process)...")
    time.sleep({cpu})  # in a process: its own GIL  #: body
    print("Finished model prediction (in a process).")
    return data_point * 2

@app.post("/predict_process_pool",
          response_model=PredictionResponse)
async def predict_in_process_pool(request: PredictionRequest):  #: start
    print("Received process pool prediction request.")
    data = await fetch_external_data_async(request.item_id)  #: io
    # no threadpool thread: it waits for a free process
    loop = asyncio.get_running_loop()
    prediction = await loop.run_in_executor(  #: cpu token_wait loop_wait
        process_pool, run_model_prediction, request.feature_value)
    print("Sending response.")
    return PredictionResponse(**data, prediction=prediction)  #: respond
