import { lambdaEdgeHandlers } from './lambda-edge.ts';
import { edgeSettings } from './settings.ts';

/** Replaced by the build with the settings it was given (Lambda@Edge has no environment). */
declare const EDGE_SETTINGS: Record<string, string>;

const handlers = lambdaEdgeHandlers(edgeSettings(EDGE_SETTINGS), { now: () => Date.now() });

/** Deploy twice from this one file: `index.viewerRequest` and `index.originRequest`. */
export const { viewerRequest, originRequest } = handlers;
