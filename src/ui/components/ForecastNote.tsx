import type { PlanForecast } from '../../eval/estimate';

/**
 * A Taste's or a Search's time from its warm-up, in the CLI's words, and the warning when the CPU will
 * take hours (naming what is faster).
 */
export function ForecastNote({ forecast, testId }: { forecast: PlanForecast | null; testId: string }) {
  if (!forecast) return null;
  return (
    <>
      <p className="muted small" data-testid={testId}>
        Estimate: {forecast.text} (the evaluation alone, from a warm-up).
      </p>
      {forecast.warning && (
        <p className="warning" role="alert" data-testid={`${testId}-warning`}>
          {forecast.warning.charAt(0).toUpperCase() + forecast.warning.slice(1)}.
        </p>
      )}
    </>
  );
}
