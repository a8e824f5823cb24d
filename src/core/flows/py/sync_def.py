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

# def: FastAPI runs it in its threadpool ({tokens} threads),
# then validates what it returns against response_model
# there too
@app.post("/predict_sync",
          response_model=PredictionResponse)  #: validate
def predict_synchronously(request: PredictionRequest):  #: start token_wait
    print("Received prediction request.")
    data = fetch_external_data(request.item_id)  #: io
    prediction = run_model_prediction(request.feature_value)  #: cpu
    print("Sending response.")
    return PredictionResponse(**data, prediction=prediction)  #: loop_wait respond
