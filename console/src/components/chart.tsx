import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface Series {
  label: string;
  values: (number | null)[];
  color: string;
  /** Bars instead of a line. */
  bars?: boolean;
}

/** A time series chart (uPlot): x in epoch seconds; the figures stay readable as a table for screen readers. */
export function TimeChart(props: {
  title: string;
  x: number[];
  series: Series[];
  height?: number;
  yLabel?: string;
  yRange?: [number, number];
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el || props.x.length === 0) return;
    const dark = matchMedia('(prefers-color-scheme: dark)').matches || document.documentElement.dataset.theme === 'dark';
    const axisColor = dark ? '#cbd5e1' : '#334155';
    const grid = { stroke: dark ? '#334155' : '#e2e8f0', width: 1 };
    const bars = uPlot.paths.bars?.({ size: [0.6, 40] });
    const plot = new uPlot(
      {
        width: Math.max(280, el.clientWidth),
        height: props.height ?? 200,
        legend: { show: true },
        scales: props.yRange ? { y: { range: props.yRange } } : {},
        axes: [
          { stroke: axisColor, grid },
          { stroke: axisColor, grid, label: props.yLabel },
        ],
        series: [
          {},
          ...props.series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            ...(s.bars && bars ? { paths: bars, fill: `${s.color}99` } : {}),
            spanGaps: true,
          })),
        ],
      },
      [props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData,
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height: props.height ?? 200 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [props.x, props.series, props.height, props.yLabel, props.yRange]);
  if (props.x.length === 0) return <p class="muted">{props.title}: no data yet.</p>;
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <div ref={ref} role="img" aria-label={`${props.title}: ${props.x.length} points`} />
    </figure>
  );
}
