import { describe, expect, it } from 'vitest';
import { NotAnHttpEvent, requestOf } from '../../src/lambda/http-event.ts';

/*
 * The three shapes AWS hands a function an HTTP request in, as its documentation's example
 * events have them (the fields Subledger does not read kept, so the shapes are the real ones),
 * read into one request: lowercase header names, every value of a repeated header, bodies
 * decoded from base64.
 */

/** "Input format of a Lambda function for proxy integration" (REST API), with a JSON body. */
const restApiEvent = {
  resource: '/v1/webhooks/apple',
  path: '/v1/webhooks/apple',
  httpMethod: 'POST',
  headers: { 'Content-Type': 'application/json', Header2: 'value2' },
  multiValueHeaders: { 'Content-Type': ['application/json'], Header2: ['value1', 'value2'] },
  queryStringParameters: null,
  multiValueQueryStringParameters: null,
  requestContext: {
    accountId: '123456789012',
    apiId: 'id',
    domainName: 'id.execute-api.us-east-1.amazonaws.com',
    domainPrefix: 'id',
    extendedRequestId: 'request-id',
    httpMethod: 'POST',
    identity: { sourceIp: '192.0.2.1', userAgent: 'App Store' },
    path: '/prod/v1/webhooks/apple',
    protocol: 'HTTP/1.1',
    requestId: 'id=',
    requestTime: '04/Mar/2020:19:15:17 +0000',
    requestTimeEpoch: 1583349317135,
    resourceId: null,
    resourcePath: '/v1/webhooks/apple',
    stage: 'prod',
  },
  pathParameters: null,
  stageVariables: null,
  body: '{"signedPayload":"a.b.c"}',
  isBase64Encoded: false,
} as const;

/** "Working with AWS Lambda proxy integrations for HTTP APIs", payload format 2.0. */
const httpApiEvent = {
  version: '2.0',
  routeKey: 'POST /v1/webhooks/google',
  rawPath: '/v1/webhooks/google',
  rawQueryString: 'parameter1=value1&parameter1=value2',
  cookies: ['cookie1'],
  headers: { 'content-type': 'application/json', header2: 'value1,value2', authorization: 'Bearer t' },
  queryStringParameters: { parameter1: 'value1,value2' },
  requestContext: {
    accountId: '123456789012',
    apiId: 'api-id',
    domainName: 'id.execute-api.us-east-1.amazonaws.com',
    domainPrefix: 'id',
    http: {
      method: 'POST',
      path: '/v1/webhooks/google',
      protocol: 'HTTP/1.1',
      sourceIp: '192.0.2.1',
      userAgent: 'APIs-Google',
    },
    requestId: 'id',
    routeKey: 'POST /v1/webhooks/google',
    stage: '$default',
    time: '12/Mar/2020:19:03:58 +0000',
    timeEpoch: 1583348638390,
  },
  body: Buffer.from('{"message":{}}').toString('base64'),
  pathParameters: {},
  isBase64Encoded: true,
  stageVariables: {},
} as const;

/** "Invoking Lambda function URLs": the 2.0 shape, from a `lambda-url` domain, with no body. */
const functionUrlEvent = {
  version: '2.0',
  routeKey: '$default',
  rawPath: '/',
  rawQueryString: '',
  headers: { 'content-type': 'application/json', host: 'abc.lambda-url.us-west-2.on.aws' },
  requestContext: {
    accountId: 'anonymous',
    apiId: 'abc',
    authentication: null,
    domainName: 'abc.lambda-url.us-west-2.on.aws',
    domainPrefix: 'abc',
    http: { method: 'get', path: '/', protocol: 'HTTP/1.1', sourceIp: '123.123.123.123', userAgent: 'agent' },
    requestId: 'id',
    routeKey: '$default',
    stage: '$default',
    time: '12/Mar/2020:19:03:58 +0000',
    timeEpoch: 1583348638390,
  },
  isBase64Encoded: false,
} as const;

describe('requests from Lambda events', () => {
  it('reads a REST API event: header names lowercased, every value of a repeated header', () => {
    const request = requestOf(restApiEvent);
    expect(request).toEqual({
      method: 'POST',
      path: '/v1/webhooks/apple',
      headers: { 'content-type': 'application/json', header2: 'value1, value2' },
      query: {},
      body: Buffer.from('{"signedPayload":"a.b.c"}'),
    });
  });

  it('reads a REST API event without multiValueHeaders, merging names that differ in case', () => {
    const { multiValueHeaders: _, ...event } = restApiEvent;
    const request = requestOf({
      ...event,
      headers: { 'Content-Type': 'application/json', 'content-type': 'text/plain' },
    });
    expect(request.headers).toEqual({ 'content-type': 'application/json, text/plain' });
  });

  it('reads an HTTP API 2.0 event, its base64 body decoded', () => {
    const request = requestOf(httpApiEvent);
    expect(request).toMatchObject({
      method: 'POST',
      path: '/v1/webhooks/google',
      headers: { authorization: 'Bearer t', header2: 'value1,value2' },
      query: { parameter1: 'value1,value2' },
    });
    expect(request.body?.toString()).toBe('{"message":{}}');
  });

  it('reads a function URL event without a body', () => {
    const request = requestOf(functionUrlEvent);
    expect(request).toEqual({
      method: 'GET',
      path: '/',
      headers: { 'content-type': 'application/json', host: 'abc.lambda-url.us-west-2.on.aws' },
      query: {},
    });
  });

  it('refuses an event that is not an HTTP request (an SQS batch, a direct invocation)', () => {
    expect(() => requestOf({ Records: [] } as never)).toThrow(NotAnHttpEvent);
    expect(() => requestOf({ signedPayload: 'x' } as never)).toThrow(NotAnHttpEvent);
  });
});
