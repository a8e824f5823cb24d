def fetch_external_data(item_id: int) -> dict:
    print(f"Fetching external data for item {item_id}...")
    time.sleep({io})  # blocks the thread running it
    print("Finished fetching external data.")
    return {"item_id": item_id, "metadata": "some_fetched_value"}

def run_model_prediction(data_point: float) -> float:
    print("Starting model prediction...")
    time.sleep({cpu})  # blocks the thread running it  #: body
    print("Finished model prediction.")
    return data_point * 2

# async def: FastAPI runs it on the event loop
@app.post("/predict_blocking",
          response_model=PredictionResponse)
async def predict_blocking(request: PredictionRequest):  #: start token_wait loop_wait
    print("Received prediction request.")
    # no await: both calls hold the loop, nothing else runs
    data = fetch_external_data(request.item_id)  #: io
    prediction = run_model_prediction(request.feature_value)  #: cpu
    print("Sending response.")
    return PredictionResponse(**data, prediction=prediction)  #: respond
