-- Crucible's databases on the compose PostgreSQL (run once, when the data volume is empty):
-- Prefect's, the campaign store (and the gateway's replay log), Optuna's and MLflow's.
CREATE DATABASE prefect;
CREATE DATABASE crucible;
CREATE DATABASE optuna;
CREATE DATABASE mlflow;
